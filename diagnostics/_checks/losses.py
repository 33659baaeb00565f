"""Checks of the 'losses' family: loss-broadcast, softmax-before-cross-entropy.

Both look at the arguments of the ``torch.nn.functional`` loss about to run (the nn.*Loss
modules call the same functions). The shape check is a tuple comparison per call. The value
check of cross_entropy/nll_loss inputs reads a small sample of rows with one device sync, on
the first calls of each call site and then on one call in ``_SAMPLE_EVERY``; once a call site
is reported it is checked on every call, so that the count is exact. An input that comes
straight out of a sigmoid is probabilities too, whatever its values.

A loss written by hand, ``((pred - y) ** 2).mean()``, calls no loss function: it is read
from the autograd graph at ``backward()`` instead, on the first calls and then on one call in
``_SAMPLE_EVERY`` (on every call once one is reported, so that the count is exact). The walk
goes down from the loss through reductions and elementwise arithmetic (a few nodes, no tensor
read) to a difference between a tensor that requires grad (the prediction) and one that does
not (the target); when that difference has shape (N, N) although the prediction is (N, 1) or
(N,), the two broadcast. Differences of two predictions (pairwise ranking, contrastive
distances) are never judged.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import torch

from .._location import is_user_frame, user_location
from ._base import Check

# Elementwise losses that broadcast mismatched shapes without an error (torch only warns for
# some). binary_cross_entropy(_with_logits) and soft_margin_loss raise instead.
_ELEMENTWISE = frozenset(
    {
        "mse_loss",
        "l1_loss",
        "smooth_l1_loss",
        "huber_loss",
        "kl_div",
        "poisson_nll_loss",
        "gaussian_nll_loss",
    }
)
_CLASSIFICATION = frozenset({"cross_entropy", "nll_loss"})
_FIRST_CALLS = 8  # value-check every call of a call site up to this many...
_SAMPLE_EVERY = 1000  # ...then one call in this many (a softmax in a model is there for good)
_ROWS = 16  # rows (or pixels) sampled per check
_WALK_NODES = 32  # autograd nodes visited at most per backward() when looking for a difference
# Nodes a hand-written loss passes through between its difference and the scalar loss.
_THROUGH = frozenset(
    {
        "MeanBackward0",
        "MeanBackward1",
        "SumBackward0",
        "SumBackward1",
        "PowBackward0",
        "AbsBackward0",
        "SqrtBackward0",
        "MulBackward0",
        "DivBackward0",
        "NegBackward0",
        "AddBackward0",
        "SubBackward0",
    }
)
_DIFFERENCES = frozenset({"SubBackward0", "AddBackward0", "RsubBackward0"})

_FIX_CE = (
    "Feed raw logits to the loss: remove the softmax before it (an nn.Softmax at the end of the "
    "model, F.softmax, .softmax(dim=1) or torch.exp(log_softmax)) and apply softmax only to "
    "read predictions."
)
_FIX_SIGMOID = (
    "Feed raw logits to the loss: remove the sigmoid before it (cross_entropy applies "
    "log_softmax itself); for independent yes/no labels use BCEWithLogitsLoss on the logits "
    "instead."
)
_FIX_NLL = (
    "Give NLLLoss log-probabilities: torch.log_softmax(logits, dim=1) (or pass the raw logits "
    "to CrossEntropyLoss, which applies log_softmax itself)."
)


def _call_site() -> tuple[str, int] | None:
    """(file, line) of the innermost user frame: the key that sampling is counted by."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        if is_user_frame(frame):
            return (frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


def _loss_label(name: str) -> str:
    """'nn.MSELoss' when an nn.*Loss module made the call, else 'F.mse_loss'."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "forward" and code.co_filename.endswith(("loss.py",)):
            owner = frame.f_locals.get("self")
            if isinstance(owner, torch.nn.Module):
                return f"nn.{type(owner).__name__}"
        if is_user_frame(frame):
            break
        frame = frame.f_back
    return f"F.{name}"


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


class LossChecks(Check):
    """Loss inputs that are silently wrong: broadcast shapes, probabilities instead of logits."""

    family = "losses"

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        self._calls: dict[Any, int] = {}
        self._flagged: set[Any] = set()
        self._backwards = 0
        self._hand_written = False  # a hand-written loss was reported: check every backward()

    def on_backward(self, tensors: Any) -> None:
        self._backwards += 1
        calls = self._backwards
        if calls > _FIRST_CALLS and calls % _SAMPLE_EVERY and not self._hand_written:
            return
        for loss in tensors:
            if isinstance(loss, torch.Tensor) and loss.grad_fn is not None and loss.numel() == 1:
                self._check_hand_written(loss)

    def _sampled(self, site: Any) -> bool:
        """Count a call at ``site``; is it one of those to check?"""
        calls = self._calls.get(site, 0) + 1
        self._calls[site] = calls
        return calls <= _FIRST_CALLS or not calls % _SAMPLE_EVERY or site in self._flagged

    def on_loss(self, name: str, input: Any, target: Any, kwargs: dict) -> None:
        if name in _ELEMENTWISE:
            if (
                isinstance(input, torch.Tensor)
                and isinstance(target, torch.Tensor)
                and input.shape != target.shape
            ):
                self._check_broadcast(name, input, target)
        elif name in _CLASSIFICATION and isinstance(input, torch.Tensor):
            self._sample_probabilities(name, input)

    # -- loss-broadcast ----------------------------------------------------------------------
    def _check_broadcast(self, name: str, input: torch.Tensor, target: torch.Tensor) -> None:
        try:
            shape = torch.broadcast_shapes(input.shape, target.shape)
        except RuntimeError:
            return  # incompatible: torch raises its own error
        if shape == input.shape:
            return  # only the target is expanded (a constant target): one value per prediction
        location = user_location(skip=2)
        label = _loss_label(name)
        pairs = math.prod(shape)
        own = max(input.numel(), target.numel())
        message = (
            f"{label} got input of shape {_shape(input.shape)} and target of shape "
            f"{_shape(target.shape)}: they broadcast to {_shape(shape)}, so each prediction is "
            f"compared with {pairs // max(input.numel(), 1)} targets instead of its own and the "
            f"loss averages {pairs} pairs instead of {own}. The model can only learn to predict "
            f"the mean of the targets."
        )
        self.emit(
            "loss-broadcast",
            key=(name, str(location)),
            message=message,
            fix=_broadcast_fix(input.shape, target.shape),
            location=location,
            evidence={
                "loss": label,
                "input shape": _shape(input.shape),
                "target shape": _shape(target.shape),
                "broadcast shape": _shape(shape),
            },
        )

    # -- softmax-before-cross-entropy -----------------------------------------------------------
    def _sample_probabilities(self, name: str, input: torch.Tensor) -> None:
        if not input.is_floating_point() or input.dim() < 1 or input.numel() == 0:
            return
        classes = input.shape[1] if input.dim() >= 2 else input.shape[0]
        if classes < 2:
            return
        site = (name, _call_site())
        if not self._sampled(site):
            return
        if name == "cross_entropy" and type(input.grad_fn).__name__ == "SigmoidBackward0":
            self._flagged.add(site)
            self._report_sigmoid(input, classes)
            return
        rows = _sample_rows(input.detach(), classes)
        tol = 1e-2 if rows.dtype in (torch.float16, torch.bfloat16) else 1e-3
        rows = rows.float()
        if name == "cross_entropy":
            low, high, off = torch.stack(
                [rows.min(), rows.max(), (rows.sum(1) - 1).abs().max()]
            ).tolist()
            if low >= 0 and high <= 1 and off <= tol:
                self._flagged.add(site)
                self._report_ce(input, rows, classes, low, high, off)
        else:
            high, off, low = torch.stack(
                [rows.max(), rows.logsumexp(1).abs().max(), rows.min()]
            ).tolist()
            if high > tol or off > 10 * tol:
                self._flagged.add(site)
                self._report_nll(input, rows, low, high)

    def _report_ce(
        self,
        input: torch.Tensor,
        rows: torch.Tensor,
        classes: int,
        low: float,
        high: float,
        off: float,
    ) -> None:
        label = _loss_label("cross_entropy")
        floor = math.log1p((classes - 1) / math.e)
        message = (
            f"{label} got probabilities as its input: the sampled rows lie in "
            f"[{low:.3g}, {high:.3g}] and each sums to 1 (largest deviation {off:.1e}). "
            f"cross_entropy applies log_softmax itself, so it computes "
            f"log_softmax(softmax(logits)): with {classes} classes the loss cannot fall below "
            f"{floor:.3f} even for perfect predictions, and the gradients shrink, so training "
            f"stalls."
        )
        location = user_location(skip=2)
        self.emit(
            "softmax-before-cross-entropy",
            key=("cross_entropy", str(location)),
            message=message,
            fix=_FIX_CE,
            location=location,
            evidence={
                "loss": label,
                "input shape": _shape(input.shape),
                "value range": f"[{low:.3g}, {high:.3g}]",
                "row sums": _sums(rows.sum(1)),
            },
        )

    def _report_sigmoid(self, input: torch.Tensor, classes: int) -> None:
        label = _loss_label("cross_entropy")
        message = (
            f"{label} got the output of a sigmoid as its input: probabilities in (0, 1), not "
            f"logits. cross_entropy applies log_softmax itself, so the {classes} scores it "
            f"compares differ by less than 1 and the loss cannot fall much below "
            f"{math.log1p((classes - 1) / math.e):.3f} even for perfect predictions; the "
            f"sigmoid's gradient vanishes as it saturates, so training stalls."
        )
        location = user_location(skip=2)
        self.emit(
            "softmax-before-cross-entropy",
            key=("cross_entropy", str(location)),
            message=message,
            fix=_FIX_SIGMOID,
            location=location,
            evidence={
                "loss": label,
                "input shape": _shape(input.shape),
                "input made by": "sigmoid",
            },
        )

    # -- loss-broadcast in a loss written by hand ------------------------------------------------
    def _check_hand_written(self, loss: torch.Tensor) -> None:
        found = _broadcast_difference(loss.grad_fn)
        if found is None:
            return
        result, prediction = found
        n = result[0]
        target: tuple[int, ...] = (n,) if prediction == (n, 1) else (n, 1)
        location = user_location(skip=3)
        self._hand_written = True
        message = (
            f"The loss passed to backward() is computed by hand from a difference between a "
            f"prediction of shape {_shape(prediction)} and a target that does not require grad, "
            f"and that difference has shape {_shape(result)}: the target (of shape "
            f"{_shape(target)}) broadcast against the prediction, so each prediction is "
            f"compared with {n} targets instead of its own and the loss averages {n * n} pairs "
            f"instead of {n}. The model can only learn to predict the mean of the targets."
        )
        self.emit(
            "loss-broadcast",
            key=("hand-written", str(location)),
            message=message,
            fix=_broadcast_fix(torch.Size(prediction), torch.Size(target)),
            location=location,
            evidence={
                "loss": "written by hand (no loss function)",
                "prediction shape": _shape(prediction),
                "difference shape": _shape(result),
            },
        )

    def _report_nll(self, input: torch.Tensor, rows: torch.Tensor, low: float, high: float) -> None:
        label = _loss_label("nll_loss")
        sums = rows.sum(1)
        probabilities = low >= 0 and high <= 1 and bool(((sums - 1).abs() < 1e-3).all())
        if probabilities:
            seen = (
                f"probabilities (values in [{low:.3g}, {high:.3g}], rows summing to 1), not "
                f"log-probabilities"
            )
            evidence_sums = ("row sums", _sums(sums))
        else:
            seen = (
                f"raw scores (values up to {high:.3g}; the exponentials of the first row sum "
                f"to {float(rows[0].exp().sum()):.4g} instead of 1), not log-probabilities"
            )
            evidence_sums = ("exp row sums", _sums(rows.exp().sum(1)))
        message = (
            f"{label} got {seen}. nll_loss only picks -input[target] from each row: it expects "
            f"log_softmax output, and with anything else the loss is not a likelihood, can go "
            f"below zero without bound, and does not push the other classes down."
        )
        location = user_location(skip=2)
        self.emit(
            "softmax-before-cross-entropy",
            key=("nll_loss", str(location)),
            message=message,
            fix=_FIX_NLL,
            location=location,
            evidence=dict(
                [
                    ("loss", label),
                    ("input shape", _shape(input.shape)),
                    ("value range", f"[{low:.3g}, {high:.3g}]"),
                    evidence_sums,
                ]
            ),
        )


def _broadcast_difference(root: Any) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(difference shape, prediction shape) of a prediction-minus-target difference below a
    scalar loss whose target broadcast the prediction from (N, 1) or (N,) to (N, N)."""
    stack: list[Any] = [root]
    seen: set[Any] = set()
    while stack and len(seen) < _WALK_NODES:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        name = type(node).__name__
        inputs = [(fn, i) for fn, i in node.next_functions if fn is not None]
        if name in _DIFFERENCES and len(node.next_functions) == 2 and len(inputs) == 1:
            try:
                result = tuple(node._input_metadata[0].shape)
                fn, index = inputs[0]
                prediction = tuple(fn._input_metadata[index].shape)
            except (AttributeError, IndexError):  # autograd internals of another version
                return None
            n = result[0] if len(result) == 2 else 0
            if n > 1 and result == (n, n) and prediction in ((n, 1), (n,)):
                return result, prediction
            continue  # a prediction minus a target: the model lies below, not the loss
        if name in _THROUGH:
            stack.extend(fn for fn, _ in inputs)
    return None


def _sample_rows(x: torch.Tensor, classes: int) -> torch.Tensor:
    """A few rows of class scores: (N, C) -> first rows; (N, C, ...) -> first pixels."""
    if x.dim() == 1:
        return x.unsqueeze(0)
    if x.dim() == 2:
        return x[:_ROWS]
    return x[:1].movedim(1, -1).reshape(-1, classes)[:_ROWS]


def _sums(values: torch.Tensor, limit: int = 3) -> str:
    shown = ", ".join(f"{v:.4f}" for v in values[:limit].tolist())
    return shown + (", ..." if values.numel() > limit else "")


def _broadcast_fix(input: torch.Size, target: torch.Size) -> str:
    if len(input) == len(target) + 1 and input[-1] == 1 and input[:-1] == target:
        return (
            "Make the shapes equal so each prediction meets its own target: "
            "`target.view(-1, 1)` (or `target.unsqueeze(1)`), or `output.squeeze(1)`."
        )
    if len(target) == len(input) + 1 and target[-1] == 1 and target[:-1] == input:
        return (
            "Make the shapes equal so each prediction meets its own target: "
            "`output.view(-1, 1)` (or `output.unsqueeze(1)`), or `target.squeeze(1)`."
        )
    return (
        f"Reshape the target to the input's shape {_shape(input)} (or fix the model's output "
        f"shape) so that each prediction meets its own target."
    )
