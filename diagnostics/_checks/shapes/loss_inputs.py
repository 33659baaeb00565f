"""Shape rules for a loss's input and target: batch sizes, class-index targets, targets of
another shape, and the broadcast of input and target. Each rule is registered by ``@rule``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._crash import Crash, TensorRef
from .rules import Explanation, in_module, operand_evidence, operands_text, rule, user_or

_CLASS_LOSSES = ("cross_entropy", "nll_loss")
_LOSS_EXPECTS = {
    "cross_entropy": "input (N, C) class scores and target (N,) class indices",
    "nll_loss": "input (N, C) log-probabilities and target (N,) class indices",
    "binary_cross_entropy": "input and target of the same shape",
    "binary_cross_entropy_with_logits": "input and target of the same shape",
}


_SAME_SHAPE = "input and target of the same shape"


@dataclass
class _LossCall:
    name: str  # "cross_entropy"
    label: str  # "criterion (CrossEntropyLoss)" or "F.cross_entropy"
    input: TensorRef | None
    target: TensorRef | None


def _loss_call(crash: Crash) -> _LossCall | None:
    module = crash.module
    op = crash.op
    if op is None or op.name.startswith("_"):
        return None
    is_loss_module = module is not None and type(module.module).__name__.endswith("Loss")
    label = module.label if is_loss_module and module is not None else f"F.{op.name}"
    inp, target = op.tensors.get("input"), op.tensors.get("target")
    return _LossCall(
        op.name,
        label,
        crash.named(inp) if inp is not None else None,
        crash.named(target) if target is not None else None,
    )


def _loss_side(role: str, ref: TensorRef | None, crash: Crash) -> str:
    """ "target y (32, 1)": the role, the user's name if any, the shape."""
    if ref is None:
        return role
    user = crash.user_name(ref.tensor)
    return f"{role} {user} {ref.shape_text}" if user else f"{role} {ref.shape_text}"


def _loss_shapes(loss: _LossCall) -> list[tuple[str, str]]:
    out = []
    if loss.input is not None:
        out.append(("input", loss.input.describe(device=False)))
    if loss.target is not None:
        out.append(("target", loss.target.describe(device=False)))
    return out


@rule(r"Expected input batch_size \((\d+)\) to match target batch_size \((\d+)\)")
def _batch_size(m: re.Match, crash: Crash) -> Explanation:
    n_in, n_target = int(m.group(1)), int(m.group(2))
    loss = _loss_call(crash) or _LossCall("cross_entropy", "the loss", None, None)
    expects = _LOSS_EXPECTS.get(loss.name, _SAME_SHAPE)
    big, small = max(n_in, n_target), min(n_in, n_target)
    if small and big % small == 0:
        cause = (
            "a view()/reshape() with a hard-coded size probably folded part of each sample "
            "into the batch dimension"
        )
        fix = (
            "flatten per sample with x.flatten(1) or x.view(x.size(0), -1), and check the "
            "in_features of the layer after it."
        )
    else:
        cause = "the input and the target do not come from the same batch"
        fix = "pass the model's output and the targets of the same batch to the loss."
    shapes = (
        f" ({_loss_side('input', loss.input, crash)}, {_loss_side('target', loss.target, crash)})"
        if loss.input is not None and loss.target is not None
        else ""
    )
    return Explanation(
        f"{loss.label} got an input batch of {n_in} and a target batch of {n_target}{shapes}; "
        f"it expects {expects}. Likely cause: {cause}.",
        fix,
        _loss_shapes(loss),
    )


@rule(r"0D or 1D target tensor expected|multi-target not supported")
def _multi_target(m: re.Match, crash: Crash) -> Explanation:
    loss = _loss_call(crash) or _LossCall("cross_entropy", "the loss", None, None)
    target = loss.target
    name = user_or(target, crash, "y") if target is not None else "y"
    shape = target.shape if target is not None else ()
    expects = _LOSS_EXPECTS.get(loss.name, _LOSS_EXPECTS["cross_entropy"])
    if len(shape) == 2 and shape[1] == 1:
        fix = f"squeeze the extra dimension: {name} = {name}.squeeze(1), giving (N,)."
    elif target is not None and target.tensor.is_floating_point():
        fix = (
            f"pass class indices, {name}.argmax(dim=1) if {name} is one-hot, or class "
            f"probabilities with exactly the input's shape."
        )
    else:
        fix = f"pass one class index per sample: {name} of shape (N,) and dtype int64."
    return Explanation(
        f"{loss.label} got a {_loss_side('target', target, crash)} with more than one value per "
        f"sample; it "
        f"expects {expects}.",
        fix,
        _loss_shapes(loss),
    )


@rule(r"target size .{0,40}(?:different to|must be the same as) (?:the )?input size", re.I)
def _target_size(m: re.Match, crash: Crash) -> Explanation:
    loss = _loss_call(crash) or _LossCall("binary_cross_entropy", "the loss", None, None)
    inp, target = loss.input, loss.target
    name = user_or(target, crash, "y") if target is not None else "y"
    if inp is not None and target is not None and inp.shape == (*target.shape, 1):
        fix = f"give the target the input's shape: {name} = {name}.unsqueeze(1)."
    elif inp is not None and target is not None and target.shape == (*inp.shape, 1):
        fix = f"give the target the input's shape: {name} = {name}.squeeze(1)."
    else:
        fix = "make the model's output and the target the same shape."
    return Explanation(
        f"{loss.label} got {_loss_side('input', inp, crash)} and "
        f"{_loss_side('target', target, crash)}; it expects {_SAME_SHAPE}.",
        fix,
        _loss_shapes(loss),
    )


@rule(r"Target (-?\d+) is out of bounds")
def _target_out_of_range(m: re.Match, crash: Crash) -> Explanation | None:
    loss = _loss_call(crash)
    if loss is None or loss.name not in _CLASS_LOSSES or loss.input is None:
        return None
    value = int(m.group(1))
    classes = loss.input.shape[1] if len(loss.input.shape) > 1 else loss.input.shape[0]
    return Explanation(
        f"{loss.label} got scores for {classes} classes ({_loss_side('input', loss.input, crash)}) "
        f"but a target of {value}: targets must be class indices 0..{classes - 1}.",
        f"give the last layer one output per class (out_features={max(value + 1, classes)} or "
        f"more), or fix the labels (e.g. 1-based labels: y - 1).",
        _loss_shapes(loss),
    )


@rule(
    r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) at "
    r"non-singleton dimension (\d+)",
)
def _broadcast(m: re.Match, crash: Crash) -> Explanation:
    size_a, size_b, dim = m.groups()
    loss = _loss_call(crash)
    if loss is not None and loss.input is not None and loss.target is not None:
        inp, target = loss.input, loss.target
        return Explanation(
            f"{loss.label} got {_loss_side('input', inp, crash)} and "
            f"{_loss_side('target', target, crash)}; it expects {_SAME_SHAPE} (they differ at "
            f"dimension {dim}: {size_a} vs {size_b}).",
            f"make the model output {target.shape_text} per batch (the last layer's "
            f"out_features is {inp.shape[-1] if inp.shape else '?'}, the target has "
            f"{target.shape[-1] if target.shape else '?'}), or fix how the target is built.",
            _loss_shapes(loss),
        )
    return Explanation(
        f"{operands_text(crash) or 'Two tensors'} cannot be combined{in_module(crash.module)}: at "
        f"dimension {dim} "
        f"one has {size_a} and the other {size_b}, and neither is 1 (broadcasting needs equal "
        f"sizes or 1).",
        "reshape one operand (unsqueeze/transpose) or fix the size that produces it, so that "
        "every dimension matches or is 1.",
        operand_evidence(crash),
    )
