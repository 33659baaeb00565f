"""grads-cleared-before-step: the gradients of backward() are gone when step() runs."""

from __future__ import annotations

import torch

from .._hand_updates import Interval
from .._params import OptimizerState
from .common import describe, fmt
from .state import GradientState

GRADS_CLEARED = (
    "optimizer.step() #{step} of {optimizer} ran after the gradients from backward() had been "
    "cleared: {how}. The step therefore uses none of this batch's gradient, so the update "
    "changes nothing it learned from the batch and the model does not train."
)

GRADS_CLEARED_FIX = (
    "Clear gradients before loss.backward() (or after optimizer.step()), never between "
    "backward() and step(): the order is zero_grad(), backward(), step()."
)


GRADS_CLEARED_BY_HAND = (
    "The update written by hand before backward() call #{backward} changed no parameter: "
    "backward() had left gradients (norm {norm} on {param}), but they were cleared (zeroed or "
    "set to None) before the update read them, so it moved every parameter by zero. {count} "
    "updates in a row did nothing: the model does not train."
)

GRADS_CLEARED_BY_HAND_FIX = (
    "Clear the gradients after the update (or before loss.backward()), never between "
    "backward() and the update: backward(), update each p from p.grad, then p.grad = None."
)

_BY_HAND_AFTER = 2  # updates by hand in a row that moved nothing before a report


class GradsClearedBeforeStep(GradientState):
    """Reports a step whose gradients were set to None or zeroed after backward()."""

    def _cleared_at_first_step(self, state: OptimizerState) -> list[torch.Tensor] | None:
        """The optimizer's parameters, if the latest backward() reached some of them and every
        one of their gradients is now None; otherwise None. (Gradients that are all zero are
        not judged here: backward() itself can produce them, e.g. a loss multiplied by 0.)"""
        reached = self._last_graph
        if not reached or "first-step" in state.reported:
            return None
        state.reported.add("first-step")  # asked once per optimizer
        params = [p for p in state.params() if p.requires_grad]
        if not any(id(p) in reached for p in params):
            return None
        if any(p.grad is not None for p in params):
            return None
        return params

    def _report_cleared(self, state: OptimizerState, cleared: list[torch.Tensor]) -> None:
        none = sum(p.grad is None for p in cleared)
        if none == len(cleared):
            how = f"all {len(cleared)} gradients backward() produced were set to None"
        elif none == 0:
            how = f"all {len(cleared)} gradients backward() produced were zeroed in place"
        else:
            how = (
                f"of the {len(cleared)} gradients backward() produced, {none} were set to None "
                f"and {len(cleared) - none} zeroed"
            )
        self.emit(
            "grads-cleared-before-step",
            key=("grads-cleared-before-step", state.serial),
            subject=state.ref,
            message=GRADS_CLEARED.format(step=state.steps + 1, optimizer=describe(state), how=how),
            fix=GRADS_CLEARED_FIX,
            evidence={
                "optimizer": describe(state),
                "step": str(state.steps + 1),
                "gradients cleared": f"{len(cleared)} tensors ({none} None, "
                f"{len(cleared) - none} all zero)",
            },
        )

    def _judge_hand_cleared(self, interval: Interval) -> None:
        """An update by hand happened in place before this backward(): did it move anything?"""
        if not interval.moved_nothing:
            self._hand_moved_nothing = 0
            return
        self._hand_moved_nothing += 1
        if self._hand_moved_nothing != _BY_HAND_AFTER:
            return
        sentinel = self._hand.sentinel
        param = self._param_names([sentinel], limit=1) if sentinel is not None else "a parameter"
        self.emit(
            "grads-cleared-before-step",
            key=("grads-cleared-before-step", "by hand"),
            subject=sentinel,
            message=GRADS_CLEARED_BY_HAND.format(
                backward=interval.backward,
                norm=fmt(interval.grad_norm),
                param=param,
                count=self._hand_moved_nothing,
            ),
            fix=GRADS_CLEARED_BY_HAND_FIX,
            evidence={
                "update": "written by hand (no optimizer)",
                "parameter watched": param,
                "its gradient after backward()": f"norm {fmt(interval.grad_norm)}",
                "its values after the update": "unchanged (updated in place by zero)",
            },
        )
