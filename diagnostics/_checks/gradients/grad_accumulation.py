"""grad-accumulation: a step uses gradients that an earlier step already used."""

from __future__ import annotations

import torch

from .._hand_updates import Interval
from .._params import OptimizerState
from .common import describe, fmt, grad_norm
from .state import GradientState

_NORM_STEPS = 200  # steps of gradient-norm evidence computed

GRAD_ACCUMULATION = (
    "optimizer.step() #{step} of {optimizer} used gradients that still held the earlier "
    "steps' gradients: backward() added this batch's gradients onto the ones step #{prev} had "
    "already applied, and nothing cleared them in between. PyTorch accumulates into .grad on "
    "purpose, so every step must start from cleared gradients; without that, each update "
    "repeats all the previous ones and the gradient keeps growing (norm {first} at step 1, "
    "{last} at step {step})."
)

GRAD_ACCUMULATION_FIX = (
    "Call optimizer.zero_grad() once per step, before loss.backward() (or right after "
    "optimizer.step()). To accumulate over k batches on purpose, call it after each "
    "optimizer.step(), so that no step reuses a previous step's gradients."
)


GRAD_ACCUMULATION_BY_HAND = (
    "The update written by hand before backward() call #{backward} used gradients that still "
    "held the earlier updates' gradients: nothing cleared .grad between two updates, so each "
    "backward() added its batch's gradients onto the ones the previous update had already "
    "applied. PyTorch accumulates into .grad on purpose, so every update must start from "
    "cleared gradients; without that, each update repeats all the previous ones (gradient "
    "norm {first} at the first update, {last} at update {updates})."
)

GRAD_ACCUMULATION_BY_HAND_FIX = (
    "Clear the gradients once per update: set p.grad = None (or call p.grad.zero_()) for each "
    "parameter right after updating it, or call model.zero_grad() before loss.backward(). To "
    "accumulate over k batches on purpose, clear them after each update."
)

_BY_HAND_AFTER = 2  # updates by hand in a row on gradients not cleared before a report


class GradAccumulation(GradientState):
    """Reports a step on stale gradients, with the gradient norm of each step as evidence."""

    def _report_accumulation(
        self, state: OptimizerState, stale: list[torch.Tensor] | None = None
    ) -> None:
        step = state.steps + 1
        params = state.params()
        if stale is None:
            stale = [p for p in params if p.grad is not None]
        first_stale, norms, name = self._stale_steps.setdefault(
            state.serial, (step, [], describe(state))
        )
        if len(norms) < _NORM_STEPS:
            norms.append(grad_norm(params))
        first = self._first_norm.get(state.serial, float("nan"))
        key = ("grad-accumulation", state.serial)
        series = {"gradient norm at each step": [first, *norms]}
        evidence = {
            "optimizer": name,
            "first step on stale gradients": f"#{first_stale}",
            "parameters concerned": f"{len(stale)} of {len(params)} tensors "
            f"({sum(p.numel() for p in stale):,} values)",
            "gradient norm": f"{fmt(first)} at step 1, {fmt(norms[-1])} at step "
            f"{first_stale + len(norms) - 1}",
        }
        self.emit(
            "grad-accumulation",
            key=key,
            subject=state.ref,
            message=GRAD_ACCUMULATION.format(
                step=step,
                prev=step - 1,
                optimizer=describe(state),
                first=fmt(first),
                last=fmt(norms[-1]),
            ),
            fix=GRAD_ACCUMULATION_FIX,
            evidence=evidence,
            series=series,
        )
        if len(norms) > 1 and len(norms) <= _NORM_STEPS:
            self.watch.update("grad-accumulation", key=key, evidence=evidence, series=series)

    def _judge_hand_accumulation(self, interval: Interval) -> None:
        """An update by hand happened before this backward(): did it leave its gradients?"""
        norms = self._hand_norms
        if len(norms) < _NORM_STEPS:
            norms.append(interval.grad_norm)
        if not interval.stale:
            self._hand_stale = 0
            return
        self._hand_stale += 1
        if self._hand_stale < _BY_HAND_AFTER:
            return
        updates = self._hand.updates
        key = ("grad-accumulation", "by hand")
        evidence = {
            "update": "written by hand (no optimizer)",
            "parameter watched": self._param_names([self._hand.sentinel], limit=1)
            if self._hand.sentinel is not None
            else "one parameter",
            "updates on stale gradients": f"{self._hand_stale} in a row, up to update #{updates}",
            "gradient norm": f"{fmt(norms[0])} at the first update, {fmt(norms[-1])} at update "
            f"{min(updates, len(norms))}",
        }
        series = {"gradient norm at each update": norms}
        message = GRAD_ACCUMULATION_BY_HAND.format(
            backward=interval.backward,
            first=fmt(norms[0]),
            last=fmt(norms[-1]),
            updates=min(updates, len(norms)),
        )
        if self._hand_stale == _BY_HAND_AFTER:
            self.emit(
                "grad-accumulation",
                key=key,
                subject=self._hand.sentinel,
                message=message,
                fix=GRAD_ACCUMULATION_BY_HAND_FIX,
                evidence=evidence,
                series=series,
            )
        else:
            self.watch.update("grad-accumulation", key=key, evidence=evidence, series=series)
