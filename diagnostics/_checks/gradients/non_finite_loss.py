"""non-finite-loss: the loss became NaN or inf, and where the first non-finite value showed."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..._location import user_location
from .._base import loss_value
from .._params import OptimizerState
from .common import finite, fmt, learning_rates, qualified_names, shape_text
from .state import GradientState

NON_FINITE = (
    "The loss became {value} at {when}. {culprit}A non-finite loss gives non-finite "
    "gradients, and once they reach the parameters every later step stays NaN."
)

NON_FINITE_PARAMS = (
    "The {where} are already non-finite: an earlier step applied non-finite gradients. "
)

NON_FINITE_INPUT = (
    "The {where} already holds NaN or inf: the data (or what ran before the model) is non-finite. "
)

NON_FINITE_OUTPUT = (
    "The first non-finite value is the {where}; every parameter was finite, so that module's "
    "computation overflowed or divided by zero. "
)

NON_FINITE_IN_LOSS = (
    "The model's output was finite, so the loss computation itself produced it (log of 0, "
    "division by zero) or the targets hold NaN or inf. "
)

NON_FINITE_FIX = (
    "Find where the first non-finite value appears: check the inputs and targets for NaN/inf, "
    "lower the learning rate or clip gradients (torch.nn.utils.clip_grad_norm_), and guard "
    "log, division and sqrt against zero (log(x + eps), F.log_softmax / F.cross_entropy on "
    "logits instead of log(softmax(x)))."
)


class NonFiniteLoss(GradientState):
    """Reads each backward()'s loss (one item() per call) and names the first non-finite value."""

    def _check_finite(self, t: torch.Tensor) -> None:
        if t.numel() == 1:
            value = loss_value(t)
            self._losses.append(value)
            if math.isfinite(value):
                return
        else:
            with torch.no_grad():
                if bool(torch.isfinite(t).all()):
                    return
            value = float("nan")
        self._report_non_finite(t, value)

    def _report_non_finite(self, t: torch.Tensor, value: Any) -> None:
        if self._non_finite is not None:  # the first occurrence holds the story; count the rest
            self.emit("non-finite-loss", key="loss", **self._non_finite)
            return
        step = max((s.steps for s in self._tracker.optimizers()), default=0) + 1
        when = f"training step {step} (backward() call {self._backwards})"
        lrs = learning_rates(self._tracker.optimizers())
        self._lr_unknown = not lrs  # filled in when an optimizer first steps
        lrs = lrs or "unknown (no optimizer stepped yet)"
        culprit, evidence = self._non_finite_culprit()
        losses = list(self._losses)
        finite = [v for v in losses if math.isfinite(v)]
        evidence = {
            "step": str(step),
            "loss": fmt(value)
            if t.numel() == 1
            else f"non-finite values in a {shape_text(t)} tensor",
            "last finite loss": fmt(finite[-1]) if finite else "none",
            "learning rate": lrs,
            **evidence,
        }
        self._non_finite = {
            "message": NON_FINITE.format(
                value=fmt(value) if t.numel() == 1 else "non-finite",
                when=when,
                culprit=culprit,
            ),
            "fix": NON_FINITE_FIX,
            "location": user_location(),
            "evidence": evidence,
            "series": {"loss": losses} if losses else None,
        }
        self.emit("non-finite-loss", key="loss", **self._non_finite)

    def _non_finite_culprit(self) -> tuple[str, dict[str, str]]:
        """Where the first non-finite value shows among the modules that just ran: their
        parameters, else the first input or output (in call order) that can still be read."""
        calls = self._live_forwards()
        names = qualified_names([module for module, _, _ in calls])

        def label(module: nn.Module) -> str:
            return names.get(id(module), type(module).__name__)

        with torch.no_grad():
            for module, _, _ in calls:
                bad = [n for n, p in module.named_parameters(recurse=False) if not finite(p)]
                if bad:
                    where = f"parameters of {label(module)} ({', '.join(bad)})"
                    return NON_FINITE_PARAMS.format(where=where), {"first non-finite value": where}
            for module, inp, out in calls:
                if inp is not None and not finite(inp):
                    where = f"input of {label(module)}"
                    return NON_FINITE_INPUT.format(where=where), {"first non-finite value": where}
                if out is not None and not finite(out):
                    where = f"output of {label(module)}"
                    return NON_FINITE_OUTPUT.format(where=where), {"first non-finite value": where}
        if calls and calls[-1][2] is not None:
            where = f"none up to the output of {label(calls[-1][0])}"
            return NON_FINITE_IN_LOSS, {"first non-finite value": where}
        return "", {}

    def _complete_learning_rate(self, state: OptimizerState) -> None:
        """A loss that went non-finite before any optimizer stepped: its evidence gets the
        learning rate at the first step."""
        if self._lr_unknown and self._non_finite is not None:
            self._lr_unknown = False
            self._non_finite["evidence"]["learning rate"] = learning_rates([state])
            self.watch.update("non-finite-loss", key="loss", evidence=self._non_finite["evidence"])
