"""grad-accumulation: a step uses gradients that an earlier step already used."""

from __future__ import annotations

import torch

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
