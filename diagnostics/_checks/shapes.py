"""Checks of the 'shapes' family: a module or op fails on the shapes it is given.

Each known error text has a rule that reads the shapes from the traceback's frames (the
module's input and its built sizes, the loss's input and target) and names the likely cause;
the numbers in the text are only the fallback when the frames hold no tensor.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from ._base import Check
from ._crash import Crash, ModuleCall, TensorRef, analyse, exception_chain, shape_text

_NUMS = r"([\d, ]*)"
_ELEMENTWISE = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.Identity,
    nn.ReLU,
    nn.LeakyReLU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.ELU,
    nn.Softplus,
    nn.Mish,
    nn.Hardswish,
    nn.ReLU6,
    nn.PReLU,
)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CLASS_LOSSES = ("cross_entropy", "nll_loss")
_LOSS_EXPECTS = {
    "cross_entropy": "input (N, C) class scores and target (N,) class indices",
    "nll_loss": "input (N, C) log-probabilities and target (N,) class indices",
    "binary_cross_entropy": "input and target of the same shape",
    "binary_cross_entropy_with_logits": "input and target of the same shape",
}
_SAME_SHAPE = "input and target of the same shape"

_BATCH_OF_ONE_FIX = (
    "This is usually the last, incomplete batch of an epoch: pass drop_last=True to the "
    "training DataLoader, or pick a batch size that does not leave one sample over. If it "
    "happens while evaluating, call model.eval() first: in eval mode BatchNorm uses its "
    "running statistics and accepts any batch size."
)
_HARD_CODED_BATCH_FIX = (
    "do not hard-code the batch size: the last batch of an epoch is usually smaller. Use "
    "{name}.view({name}.size(0), -1) or {name}.flatten(1)."
)


@dataclass
class _Explanation:
    message: str
    fix: str
    evidence: list[tuple[str, str]] = field(default_factory=list)


_Rule = Callable[[re.Match, Crash], "_Explanation | None"]


class ShapeChecks(Check):
    """Explain shape errors: the shapes, the module path and the likely cause."""

    family = "shapes"

    def on_exception(self, exc: BaseException) -> None:
        for err in exception_chain(exc):
            explanation, crash = _explain(err)
            if explanation is not None and crash is not None:
                self._emit(explanation, crash)
                return

    def _emit(self, explanation: _Explanation, crash: Crash) -> None:
        evidence = list(explanation.evidence)
        if crash.module is not None and not any(k == "module" for k, _ in evidence):
            evidence.insert(0, ("module", crash.module.label))
        evidence.append(("error", _first_line(crash.message)))
        if crash.expression:
            evidence.append(("line", crash.expression))
        self.emit(
            "shape-mismatch",
            message=explanation.message,
            fix=explanation.fix,
            location=crash.location,
            evidence=evidence,
        )


def _explain(err: BaseException) -> tuple[_Explanation | None, Crash | None]:
    if not isinstance(err, (RuntimeError, ValueError, IndexError)):
        return None, None
    text = str(err)
    for pattern, rule in _RULES:
        match = pattern.search(text)
        if match:
            crash = analyse(err)
            return rule(match, crash), crash
    if _looks_like_shapes(text):
        crash = analyse(err)
        if not crash.user_raised:
            return _generic(crash), crash
    return None, None


# -- Linear / matmul -----------------------------------------------------------------------------
def _matmul(m: re.Match, crash: Crash) -> _Explanation:
    rows1, cols1, rows2, cols2 = (int(g) for g in m.groups())
    module = crash.module
    if module is not None and isinstance(module.module, nn.Linear) and module.inputs:
        linear = module.module
        inp = crash.named(module.inputs[0])
        return _linear(module.label, linear.in_features, linear.out_features, inp, module, crash)
    weight = _functional_linear_weight(crash)
    if weight is not None and len(crash.operands) >= 1:
        out_f, in_f = weight.shape
        return _linear(f"{crash.callee}()", in_f, out_f, crash.operands[0], module, crash)
    a, b = crash.operands[:2] if len(crash.operands) >= 2 else (None, None)
    shapes = (
        f"{a.describe(device=False)} and {b.describe(device=False)}"
        if a and b
        else f"({rows1}x{cols1}) and ({rows2}x{cols2})"
    )
    return _Explanation(
        f"Matrices {shapes} cannot be multiplied{_in(module)}: the inner sizes {cols1} and "
        f"{rows2} must be equal.",
        "transpose the operand that is the wrong way round, or fix the size that feeds it so "
        f"that the first's last dimension equals the second's first ({cols1} vs {rows2}).",
    )


def _functional_linear_weight(crash: Crash) -> TensorRef | None:
    if crash.callee.split(".")[-1] != "linear" or len(crash.operands) < 2:
        return None
    weight = crash.operands[1]
    return weight if len(weight.shape) == 2 else None


def _linear(
    label: str, in_f: int, out_f: int, inp: TensorRef, module: ModuleCall | None, crash: Crash
) -> _Explanation:
    got = inp.shape[-1] if inp.shape else 0
    evidence = [("input", inp.describe(device=False)), ("in_features", str(in_f))]
    text = _desc(inp, inp.shape, crash)
    per_sample = math.prod(inp.shape[1:])
    if len(inp.shape) > 2 and per_sample == in_f:
        return _Explanation(
            f"{label} expects (N, {in_f}) inputs but got {text}: the "
            f"samples were not flattened, so it reads the last dimension ({got}) as the "
            f"features.",
            f"flatten each sample before {label}: add nn.Flatten() in front of it, or "
            f"x = x.flatten(1) in forward().",
            evidence,
        )
    if _after_flatten(module, crash):
        return _Explanation(
            f"{label} is built with in_features={in_f}, but the flattened {text} has {got} "
            f"features per sample: the flatten size was "
            f"computed wrongly (it is channels x height x width of the last feature map).",
            f"build it as nn.Linear({got}, {out_f}): {got} is the actual flattened size.",
            evidence,
        )
    before = _previous_layer(module)
    producer = (
        _label_of(before, module)
        if before is not None and getattr(before, "out_features", None) == got
        else None
    )
    origin = f" ({producer} outputs {got})" if producer else ""
    other = f"make {producer} output {in_f}" if producer else f"give it {in_f} features"
    return _Explanation(
        f"{label} is built with in_features={in_f}, but its {text} has {got} features in "
        f"the last dimension{origin}.",
        f"make the sizes agree: nn.Linear({got}, {out_f}), or {other}.",
        evidence,
    )


def _after_flatten(module: ModuleCall | None, crash: Crash) -> bool:
    """Does the Linear read a flattened feature map (a Flatten before it, or conv layers)?"""
    before = _previous_layer(module)
    if isinstance(before, nn.Flatten):
        return True
    if module is None:
        return "flatten" in crash.expression or ".view(" in crash.expression
    return any(isinstance(m, (*_CONVS, nn.Flatten)) for m in module.root.modules())


def _previous_layer(module: ModuleCall | None) -> nn.Module | None:
    if module is None:
        return None
    for layer in module.layers_before():
        if not isinstance(layer, _ELEMENTWISE):
            return layer
    return None


def _label_of(layer: nn.Module, module: ModuleCall | None) -> str:
    if module is not None:
        for path, m in module.root.named_modules():
            if m is layer:
                return f"{path} ({type(layer).__name__})"
    return type(layer).__name__


# -- convolutions --------------------------------------------------------------------------------
def _conv_channels(m: re.Match, crash: Crash) -> _Explanation:
    weight = _ints(m.group(1))
    expected, got = int(m.group(3)), int(m.group(4))
    module = crash.module
    label = module.label if module is not None else (crash.callee or "the convolution")
    inp = _conv_input(crash, _ints(m.group(2)))
    shape = inp.shape if inp is not None else _ints(m.group(2))
    name = _user_or(inp, crash, "x")
    dims = len(weight) - 2
    evidence = [
        ("input", shape_text(shape)),
        ("weight", shape_text(weight)),
        ("in_channels", str(expected)),
    ]
    if len(shape) == dims + 2 and shape[-1] == expected and shape[1] != expected:
        return _Explanation(
            f"{label} got {_desc(inp, shape, crash)}, which looks channels-last "
            f"(N, {_spatial(dims)}, C): convolutions read channels from dim 1, (N, C, "
            f"{_spatial(dims)}), so it sees {got} channels where it expects {expected}.",
            f"put the channels first: {name} = {name}.{_to_channels_first(dims)} (or build the "
            f"batches channels-first).",
            evidence,
        )
    if len(shape) == dims + 1 and expected == 1:
        return _Explanation(
            f"{label} got {_desc(inp, shape, crash)}, which has no channel dimension: a "
            f"{dims + 1}-D input is read as one unbatched sample with {shape[0]} channels, but "
            f"the layer expects {expected} channel.",
            f"add the channel dimension: {name} = {name}.unsqueeze(1), giving (N, 1, "
            f"{_spatial(dims)}).",
            evidence,
        )
    before = _previous_layer(module)
    if before is not None and getattr(before, "out_channels", None) == got:
        origin = f"{_label_of(before, module)} outputs {got} channels"
    else:
        origin = f"the input has {got} channels at dim 1"
    return _Explanation(
        f"{label} is built with in_channels={expected}, but {origin} ({_desc(inp, shape, crash)}).",
        f"build it with in_channels={got}, or give it inputs with {expected} channels "
        f"(e.g. grayscale vs RGB images).",
        evidence,
    )


def _conv_rank(m: re.Match, crash: Crash) -> _Explanation:
    unbatched, batched, conv = int(m.group(1)), int(m.group(2)), m.group(3)
    shape = _ints(m.group(4))
    module = crash.module
    label = module.label if module is not None else f"conv{conv}d"
    inp = _conv_input(crash, shape)
    shape = inp.shape if inp is not None else shape
    name = _user_or(inp, crash, "x")
    expects = f"{unbatched}-D (unbatched) or {batched}-D (N, C, ...) inputs"
    if len(shape) < unbatched:
        channels = getattr(module.module, "in_channels", 1) if module is not None else 1
        dims = batched - 2
        side = _side(math.prod(shape[1:]) // max(channels, 1), dims)
        hint = (
            f"{name} = {name}.view(-1, {channels}, {', '.join([str(side)] * dims)})"
            if side
            else f"reshape {name} to (N, C, {_spatial(dims)})"
        )
        return _Explanation(
            f"{label} expects {expects} but got {_desc(inp, shape, crash)}: the samples look "
            f"flattened.",
            f"give it images, not flat vectors: {hint} (or drop the flatten in the data).",
        )
    return _Explanation(
        f"{label} expects {expects} but got {_desc(inp, shape, crash)}: one dimension too many.",
        f"remove the extra dimension (an extra unsqueeze(), or a batch of batches): "
        f"{name} should be (N, C, ...).",
    )


def _too_small(m: re.Match, crash: Crash) -> _Explanation:
    module = crash.module
    label = module.label if module is not None else (crash.callee or "the layer")
    inp = module.inputs[0] if module is not None and module.inputs else None
    got = f" {inp.shape_text}" if inp else ""
    return _Explanation(
        f"{label} gets a feature map{got} smaller than its window: each convolution "
        f"without padding and each pooling shrinks the images, and here nothing is left.",
        "use padding (e.g. padding=1 for 3x3 kernels), fewer pooling layers, or larger "
        "input images.",
    )


# -- BatchNorm -------------------------------------------------------------------------------------
def _batch_of_one(m: re.Match, crash: Crash) -> _Explanation:
    module = crash.module
    label = module.label if module is not None else "BatchNorm"
    size = _ints(m.group(1)) if m.group(1) else ()
    inp = _first_input(crash)
    shape = inp.shape if inp is not None else size
    return _Explanation(
        f"{label} is in training mode and got a batch of one sample {shape_text(shape)}: "
        f"BatchNorm needs more than one value per channel to compute batch statistics.",
        _BATCH_OF_ONE_FIX,
        [("input", shape_text(shape))],
    )


def _num_features(m: re.Match, crash: Crash) -> _Explanation:
    got, built = int(m.group(1)), int(m.group(2))
    module = crash.module
    kind = type(module.module).__name__ if module is not None else "BatchNorm"
    label = module.label if module is not None else "F.batch_norm"
    inp = _first_input(crash)
    before = _previous_layer(module)
    origin = (
        f" ({_label_of(before, module)} outputs {got})"
        if before is not None
        and got in (getattr(before, "out_channels", None), getattr(before, "out_features", None))
        else ""
    )
    shape = f" {inp.shape_text}" if inp is not None else ""
    return _Explanation(
        f"{label} is built with num_features={built}, but its input{shape} has {got} "
        f"channels at dim 1{origin}.",
        f"build it as nn.{kind}({got}): num_features is the number of channels (or features) "
        f"of the layer before it.",
        [("num_features", str(built)), ("input", shape.strip() or f"{got} channels")],
    )


def _norm_rank(m: re.Match, crash: Crash) -> _Explanation:
    expected, got = m.group(1), int(m.group(2))
    module = crash.module
    label = module.label if module is not None else "the normalization layer"
    inp = _first_input(crash)
    channels = inp.shape[1] if inp is not None and len(inp.shape) > 1 else None
    shape = inp.shape_text if inp is not None else f"{got}-D"
    kind = type(module.module).__name__ if module is not None else ""
    if kind == "BatchNorm1d" and got == 4:
        better = f"nn.BatchNorm2d({channels})" if channels else "nn.BatchNorm2d"
        cause = "BatchNorm1d is for (N, C) or (N, C, L); images (N, C, H, W) need BatchNorm2d"
    elif kind == "BatchNorm2d" and got == 2:
        better = f"nn.BatchNorm1d({channels})" if channels else "nn.BatchNorm1d"
        cause = "BatchNorm2d is for images (N, C, H, W); features (N, C) need BatchNorm1d"
    else:
        better, cause = "", f"{kind or 'it'} expects {expected} inputs"
    fix = (
        f"use {better} here (after a {'Conv2d' if '2d' in better else 'Linear'})."
        if better
        else f"give {label} a {expected} input, or use the variant of the layer for {got}-D."
    )
    return _Explanation(f"{label} got a {got}-D input {shape}: {cause}.", fix, [("input", shape)])


# -- losses ----------------------------------------------------------------------------------------
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


def _batch_size(m: re.Match, crash: Crash) -> _Explanation:
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
    return _Explanation(
        f"{loss.label} got an input batch of {n_in} and a target batch of {n_target}{shapes}; "
        f"it expects {expects}. Likely cause: {cause}.",
        fix,
        _loss_shapes(loss),
    )


def _multi_target(m: re.Match, crash: Crash) -> _Explanation:
    loss = _loss_call(crash) or _LossCall("cross_entropy", "the loss", None, None)
    target = loss.target
    name = _user_or(target, crash, "y") if target is not None else "y"
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
    return _Explanation(
        f"{loss.label} got a {_loss_side('target', target, crash)} with more than one value per "
        f"sample; it "
        f"expects {expects}.",
        fix,
        _loss_shapes(loss),
    )


def _target_size(m: re.Match, crash: Crash) -> _Explanation:
    loss = _loss_call(crash) or _LossCall("binary_cross_entropy", "the loss", None, None)
    inp, target = loss.input, loss.target
    name = _user_or(target, crash, "y") if target is not None else "y"
    if inp is not None and target is not None and inp.shape == (*target.shape, 1):
        fix = f"give the target the input's shape: {name} = {name}.unsqueeze(1)."
    elif inp is not None and target is not None and target.shape == (*inp.shape, 1):
        fix = f"give the target the input's shape: {name} = {name}.squeeze(1)."
    else:
        fix = "make the model's output and the target the same shape."
    return _Explanation(
        f"{loss.label} got {_loss_side('input', inp, crash)} and "
        f"{_loss_side('target', target, crash)}; it expects {_SAME_SHAPE}.",
        fix,
        _loss_shapes(loss),
    )


def _target_out_of_range(m: re.Match, crash: Crash) -> _Explanation | None:
    loss = _loss_call(crash)
    if loss is None or loss.name not in _CLASS_LOSSES or loss.input is None:
        return None
    value = int(m.group(1))
    classes = loss.input.shape[1] if len(loss.input.shape) > 1 else loss.input.shape[0]
    return _Explanation(
        f"{loss.label} got scores for {classes} classes ({_loss_side('input', loss.input, crash)}) "
        f"but a target of {value}: targets must be class indices 0..{classes - 1}.",
        f"give the last layer one output per class (out_features={max(value + 1, classes)} or "
        f"more), or fix the labels (e.g. 1-based labels: y - 1).",
        _loss_shapes(loss),
    )


# -- elementwise, views and others -----------------------------------------------------------------
def _broadcast(m: re.Match, crash: Crash) -> _Explanation:
    size_a, size_b, dim = m.groups()
    loss = _loss_call(crash)
    if loss is not None and loss.input is not None and loss.target is not None:
        inp, target = loss.input, loss.target
        return _Explanation(
            f"{loss.label} got {_loss_side('input', inp, crash)} and "
            f"{_loss_side('target', target, crash)}; it expects {_SAME_SHAPE} (they differ at "
            f"dimension {dim}: {size_a} vs {size_b}).",
            f"make the model output {target.shape_text} per batch (the last layer's "
            f"out_features is {inp.shape[-1] if inp.shape else '?'}, the target has "
            f"{target.shape[-1] if target.shape else '?'}), or fix how the target is built.",
            _loss_shapes(loss),
        )
    return _Explanation(
        f"{_operands_text(crash) or 'Two tensors'} cannot be combined{_in(crash.module)}: at "
        f"dimension {dim} "
        f"one has {size_a} and the other {size_b}, and neither is 1 (broadcasting needs equal "
        f"sizes or 1).",
        "reshape one operand (unsqueeze/transpose) or fix the size that produces it, so that "
        "every dimension matches or is 1.",
        _operand_evidence(crash),
    )


def _bad_view(m: re.Match, crash: Crash) -> _Explanation:
    wanted, size = _ints(m.group(1), signed=True), int(m.group(2))
    name = crash.receiver or "x"
    rest = math.prod(wanted[1:]) if len(wanted) > 1 else 0
    if wanted and wanted[0] > 0 and -1 not in wanted and rest and size % rest == 0:
        return _Explanation(
            f"{name} of {size} elements cannot be viewed as {shape_text(wanted)}: this batch "
            f"has {size // rest} samples, not the hard-coded {wanted[0]}.",
            _HARD_CODED_BATCH_FIX.format(name=name),
        )
    source = next((t for t in crash.operands if t.name == crash.receiver), None)
    per_sample = math.prod(source.shape[1:]) if source is not None and source.shape else None
    detail = (
        f"each sample of {name} has {per_sample} values"
        if per_sample
        else "the sizes do not multiply to the number of elements"
    )
    return _Explanation(
        f"{name} of {size} elements cannot be viewed as {shape_text(wanted)}: {detail}.",
        f"use {name}.view({name}.size(0), -1) or {name}.flatten(1) to flatten per sample, and "
        f"size the next layer with the flattened size.",
    )


def _layer_norm(m: re.Match, crash: Crash) -> _Explanation:
    normalized, got = _ints(m.group(1)), _ints(m.group(3))
    module = crash.module
    label = module.label if module is not None else "F.layer_norm"
    tail = got[-len(normalized) :] if normalized else ()
    return _Explanation(
        f"{label} normalizes the last dimensions {list(normalized)} but got input "
        f"{shape_text(got)}.",
        f"build it as nn.LayerNorm({list(tail) if len(tail) > 1 else tail[0]}) to match the "
        f"input's last dimension{'s' if len(tail) > 1 else ''}.",
        [("input", shape_text(got))],
    )


def _rnn_input(m: re.Match, crash: Crash) -> _Explanation:
    expected, got = int(m.group(1)), int(m.group(2))
    module = crash.module
    label = module.label if module is not None else "the recurrent layer"
    inp = _first_input(crash)
    batch_first = getattr(module.module, "batch_first", None) if module is not None else None
    layout = "(N, L, features)" if batch_first else "(L, N, features)"
    shape = f" {inp.shape_text}" if inp is not None else ""
    return _Explanation(
        f"{label} is built with input_size={expected} but its input{shape} has {got} features "
        f"in the last dimension; with batch_first={batch_first} it reads {layout}.",
        f"build it with input_size={got}, or permute the input to {layout}.",
    )


def _generic(crash: Crash) -> _Explanation:
    module = crash.module
    if module is not None:
        what = module.label
    else:
        what = f"{crash.callee}()" if crash.callee else "an operation"
    shapes = _operands_text(crash)
    return _Explanation(
        f"{what} failed on the shapes it was given"
        + (f": {shapes}." if shapes else " (see the error text)."),
        "compare these shapes with what the operation expects (see the error below) and fix "
        "the layer sizes or the reshape that produced them.",
        _operand_evidence(crash),
    )


_RULES: tuple[tuple[re.Pattern[str], _Rule], ...] = (
    (
        re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)"),
        _matmul,
    ),
    (
        re.compile(
            rf"weight of size \[{_NUMS}\], expected input\s*\[{_NUMS}\] to have (\d+) channels, "
            r"but got (\d+) channels"
        ),
        _conv_channels,
    ),
    (
        re.compile(
            r"Expected (\d)D \(unbatched\) or (\d)D \(batched\) input to conv(\d)d, but "
            rf"got input of size:?\s*\[{_NUMS}\]"
        ),
        _conv_rank,
    ),
    (
        re.compile(
            r"Kernel size can't be greater than actual input size|"
            r"Output size is too small",
            re.I,
        ),
        _too_small,
    ),
    (
        re.compile(
            r"Expected more than 1 value per channel when training"
            rf"(?:, got input size (?:torch\.Size\()?\[{_NUMS}\])?",
            re.I,
        ),
        _batch_of_one,
    ),
    (re.compile(r"running_(?:mean|var) should contain (\d+) elements not (\d+)"), _num_features),
    (re.compile(r"expected (\d+D(?: or \d+D)?) input \(got (\d+)D input\)"), _norm_rank),
    (
        re.compile(r"Expected input batch_size \((\d+)\) to match target batch_size \((\d+)\)"),
        _batch_size,
    ),
    (re.compile(r"0D or 1D target tensor expected|multi-target not supported"), _multi_target),
    (
        re.compile(
            r"target size .{0,40}(?:different to|must be the same as) (?:the )?input size", re.I
        ),
        _target_size,
    ),
    (re.compile(r"Target (-?\d+) is out of bounds"), _target_out_of_range),
    (
        re.compile(
            r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) at "
            r"non-singleton dimension (\d+)"
        ),
        _broadcast,
    ),
    (re.compile(r"shape '\[([-\d, ]+)\]' is invalid for input of size (\d+)"), _bad_view),
    (
        re.compile(
            rf"normalized_shape=\[{_NUMS}\], expected input with shape \[\*,\s*{_NUMS}\], "
            rf"but got input of size\s*\[{_NUMS}\]"
        ),
        _layer_norm,
    ),
    (
        re.compile(r"input\.size\(-1\) must be equal to input_size\. Expected (\d+), got (\d+)"),
        _rnn_input,
    ),
)
_SHAPE_WORDS = re.compile(r"\b(?:size|shape|dimension|dim)s?\b", re.I)
_SHAPE_NUMBERS = re.compile(
    r"\[\s*\d+(?:\s*,\s*\d+)*\s*\]|\(\s*\d+(?:\s*[x,]\s*\d+)+\s*\)|\bsizes? \(?\d+|\d+ elements"
)
# Not shapes: a wrong index or a device mix-up (the devices check explains those).
_NOT_SHAPES = re.compile(r"\bindex|device", re.I)


def _looks_like_shapes(text: str) -> bool:
    return bool(
        _SHAPE_WORDS.search(text) and _SHAPE_NUMBERS.search(text) and not _NOT_SHAPES.search(text)
    )


# -- helpers ---------------------------------------------------------------------------------------
def _ints(text: str, *, signed: bool = False) -> tuple[int, ...]:
    pattern = r"-?\d+" if signed else r"\d+"
    return tuple(int(n) for n in re.findall(pattern, text or ""))


def _first_input(crash: Crash) -> TensorRef | None:
    module = crash.module
    if module is not None and module.inputs:
        return crash.named(module.inputs[0])
    if crash.op is not None and "input" in crash.op.tensors:
        return crash.named(crash.op.tensors["input"])
    return crash.operands[0] if crash.operands else None


def _conv_input(crash: Crash, shape: tuple[int, ...]) -> TensorRef | None:
    """The tensor the convolution got: the conv module's input, or the operand that the
    error's shape describes (torch shows an unbatched input with a batch of one added)."""
    module = crash.module
    if module is not None and isinstance(module.module, _CONVS) and module.inputs:
        return crash.named(module.inputs[0])
    for ref in crash.operands:
        if ref.shape == shape or (shape[:1] == (1,) and ref.shape == shape[1:]):
            return crash.named(ref)
    return None


def _desc(ref: TensorRef | None, shape: tuple[int, ...], crash: Crash) -> str:
    """ "x (32, 8, 8, 1)" with the user's name for the tensor, else "input (32, 8, 8, 1)"."""
    if ref is None:
        return f"input {shape_text(shape)}"
    return f"{crash.user_name(ref.tensor) or 'input'} {ref.shape_text}"


def _user_or(ref: TensorRef | None, crash: Crash, default: str) -> str:
    name = crash.user_name(ref.tensor) if ref is not None else None
    return name if name and all(p.isidentifier() for p in name.split(".")) else default


def _spatial(dims: int) -> str:
    return {1: "L", 2: "H, W", 3: "D, H, W"}.get(dims, "...")


def _to_channels_first(dims: int) -> str:
    order = ", ".join(str(i) for i in (0, dims + 1, *range(1, dims + 1)))
    return f"permute({order})"


def _side(per_channel: int, dims: int) -> int | None:
    if dims < 1 or per_channel < 1:
        return None
    side = round(per_channel ** (1 / dims))
    return side if side**dims == per_channel else None


def _in(module: ModuleCall | None) -> str:
    return f" in {module.label}" if module is not None else ""


def _operands_text(crash: Crash) -> str:
    refs = crash.operands or tuple(crash.evidence_tensors())
    if not refs:
        return ""
    return " and ".join(r.describe(device=False) for r in refs[:4])


def _operand_evidence(crash: Crash) -> list[tuple[str, str]]:
    return [(r.name, r.shape_text) for r in crash.evidence_tensors()[:6]]


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""


__all__ = ["ShapeChecks"]
