"""Shape rules for layers and tensor ops: Linear and matmul, convolutions, normalisation,
recurrent layers, views. Each rule is registered with its error text by ``@rule``."""

from __future__ import annotations

import math
import re

from torch import nn

from .._crash import Crash, ModuleCall, TensorRef, shape_text
from .rules import (
    CONVS,
    NUMS,
    Explanation,
    conv_input,
    desc,
    first_input,
    in_module,
    ints,
    rule,
    spatial,
    square_side,
    to_channels_first,
    user_or,
)

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


@rule(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
def _matmul(m: re.Match, crash: Crash) -> Explanation:
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
    return Explanation(
        f"Matrices {shapes} cannot be multiplied{in_module(module)}: the inner sizes {cols1} and "
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
) -> Explanation:
    got = inp.shape[-1] if inp.shape else 0
    evidence = [("input", inp.describe(device=False)), ("in_features", str(in_f))]
    text = desc(inp, inp.shape, crash)
    per_sample = math.prod(inp.shape[1:])
    if len(inp.shape) > 2 and per_sample == in_f:
        return Explanation(
            f"{label} expects (N, {in_f}) inputs but got {text}: the "
            f"samples were not flattened, so it reads the last dimension ({got}) as the "
            f"features.",
            f"flatten each sample before {label}: add nn.Flatten() in front of it, or "
            f"x = x.flatten(1) in forward().",
            evidence,
        )
    if _after_flatten(module, crash):
        return Explanation(
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
    return Explanation(
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
    return any(isinstance(m, (*CONVS, nn.Flatten)) for m in module.root.modules())


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


@rule(
    rf"weight of size \[{NUMS}\], expected input\s*\[{NUMS}\] to have (\d+) channels, "
    r"but got (\d+) channels",
)
def _conv_channels(m: re.Match, crash: Crash) -> Explanation:
    weight = ints(m.group(1))
    expected, got = int(m.group(3)), int(m.group(4))
    module = crash.module
    label = module.label if module is not None else (crash.callee or "the convolution")
    inp = conv_input(crash, ints(m.group(2)))
    shape = inp.shape if inp is not None else ints(m.group(2))
    name = user_or(inp, crash, "x")
    dims = len(weight) - 2
    evidence = [
        ("input", shape_text(shape)),
        ("weight", shape_text(weight)),
        ("in_channels", str(expected)),
    ]
    if len(shape) == dims + 2 and shape[-1] == expected and shape[1] != expected:
        return Explanation(
            f"{label} got {desc(inp, shape, crash)}, which looks channels-last "
            f"(N, {spatial(dims)}, C): convolutions read channels from dim 1, (N, C, "
            f"{spatial(dims)}), so it sees {got} channels where it expects {expected}.",
            f"put the channels first: {name} = {name}.{to_channels_first(dims)} (or build the "
            f"batches channels-first).",
            evidence,
        )
    if len(shape) == dims + 1 and expected == 1:
        return Explanation(
            f"{label} got {desc(inp, shape, crash)}, which has no channel dimension: a "
            f"{dims + 1}-D input is read as one unbatched sample with {shape[0]} channels, but "
            f"the layer expects {expected} channel.",
            f"add the channel dimension: {name} = {name}.unsqueeze(1), giving (N, 1, "
            f"{spatial(dims)}).",
            evidence,
        )
    before = _previous_layer(module)
    if before is not None and getattr(before, "out_channels", None) == got:
        origin = f"{_label_of(before, module)} outputs {got} channels"
    else:
        origin = f"the input has {got} channels at dim 1"
    return Explanation(
        f"{label} is built with in_channels={expected}, but {origin} ({desc(inp, shape, crash)}).",
        f"build it with in_channels={got}, or give it inputs with {expected} channels "
        f"(e.g. grayscale vs RGB images).",
        evidence,
    )


@rule(
    r"Expected (\d)D \(unbatched\) or (\d)D \(batched\) input to conv(\d)d, but "
    rf"got input of size:?\s*\[{NUMS}\]",
)
def _conv_rank(m: re.Match, crash: Crash) -> Explanation:
    unbatched, batched, conv = int(m.group(1)), int(m.group(2)), m.group(3)
    shape = ints(m.group(4))
    module = crash.module
    label = module.label if module is not None else f"conv{conv}d"
    inp = conv_input(crash, shape)
    shape = inp.shape if inp is not None else shape
    name = user_or(inp, crash, "x")
    expects = f"{unbatched}-D (unbatched) or {batched}-D (N, C, ...) inputs"
    if len(shape) < unbatched:
        channels = getattr(module.module, "in_channels", 1) if module is not None else 1
        dims = batched - 2
        side = square_side(math.prod(shape[1:]) // max(channels, 1), dims)
        hint = (
            f"{name} = {name}.view(-1, {channels}, {', '.join([str(side)] * dims)})"
            if side
            else f"reshape {name} to (N, C, {spatial(dims)})"
        )
        return Explanation(
            f"{label} expects {expects} but got {desc(inp, shape, crash)}: the samples look "
            f"flattened.",
            f"give it images, not flat vectors: {hint} (or drop the flatten in the data).",
        )
    return Explanation(
        f"{label} expects {expects} but got {desc(inp, shape, crash)}: one dimension too many.",
        f"remove the extra dimension (an extra unsqueeze(), or a batch of batches): "
        f"{name} should be (N, C, ...).",
    )


@rule(
    r"Kernel size can't be greater than actual input size|"
    r"Output size is too small",
    re.I,
)
def _too_small(m: re.Match, crash: Crash) -> Explanation:
    module = crash.module
    label = module.label if module is not None else (crash.callee or "the layer")
    inp = module.inputs[0] if module is not None and module.inputs else None
    got = f" {inp.shape_text}" if inp else ""
    return Explanation(
        f"{label} gets a feature map{got} smaller than its window: each convolution "
        f"without padding and each pooling shrinks the images, and here nothing is left.",
        "use padding (e.g. padding=1 for 3x3 kernels), fewer pooling layers, or larger "
        "input images.",
    )


@rule(
    r"Expected more than 1 value per channel when training"
    rf"(?:, got input size (?:torch\.Size\()?\[{NUMS}\])?",
    re.I,
)
def _batch_of_one(m: re.Match, crash: Crash) -> Explanation:
    module = crash.module
    label = module.label if module is not None else "BatchNorm"
    size = ints(m.group(1)) if m.group(1) else ()
    inp = first_input(crash)
    shape = inp.shape if inp is not None else size
    return Explanation(
        f"{label} is in training mode and got a batch of one sample {shape_text(shape)}: "
        f"BatchNorm needs more than one value per channel to compute batch statistics.",
        _BATCH_OF_ONE_FIX,
        [("input", shape_text(shape))],
    )


@rule(r"running_(?:mean|var) should contain (\d+) elements not (\d+)")
def _num_features(m: re.Match, crash: Crash) -> Explanation:
    got, built = int(m.group(1)), int(m.group(2))
    module = crash.module
    kind = type(module.module).__name__ if module is not None else "BatchNorm"
    label = module.label if module is not None else "F.batch_norm"
    inp = first_input(crash)
    before = _previous_layer(module)
    origin = (
        f" ({_label_of(before, module)} outputs {got})"
        if before is not None
        and got in (getattr(before, "out_channels", None), getattr(before, "out_features", None))
        else ""
    )
    shape = f" {inp.shape_text}" if inp is not None else ""
    return Explanation(
        f"{label} is built with num_features={built}, but its input{shape} has {got} "
        f"channels at dim 1{origin}.",
        f"build it as nn.{kind}({got}): num_features is the number of channels (or features) "
        f"of the layer before it.",
        [("num_features", str(built)), ("input", shape.strip() or f"{got} channels")],
    )


@rule(r"expected (\d+D(?: or \d+D)?) input \(got (\d+)D input\)")
def _norm_rank(m: re.Match, crash: Crash) -> Explanation:
    expected, got = m.group(1), int(m.group(2))
    module = crash.module
    label = module.label if module is not None else "the normalization layer"
    inp = first_input(crash)
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
    return Explanation(f"{label} got a {got}-D input {shape}: {cause}.", fix, [("input", shape)])


@rule(r"shape '\[([-\d, ]+)\]' is invalid for input of size (\d+)")
def _bad_view(m: re.Match, crash: Crash) -> Explanation:
    wanted, size = ints(m.group(1), signed=True), int(m.group(2))
    name = crash.receiver or "x"
    rest = math.prod(wanted[1:]) if len(wanted) > 1 else 0
    if wanted and wanted[0] > 0 and -1 not in wanted and rest and size % rest == 0:
        return Explanation(
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
    return Explanation(
        f"{name} of {size} elements cannot be viewed as {shape_text(wanted)}: {detail}.",
        f"use {name}.view({name}.size(0), -1) or {name}.flatten(1) to flatten per sample, and "
        f"size the next layer with the flattened size.",
    )


@rule(
    rf"normalized_shape=\[{NUMS}\], expected input with shape \[\*,\s*{NUMS}\], "
    rf"but got input of size\s*\[{NUMS}\]",
)
def _layer_norm(m: re.Match, crash: Crash) -> Explanation:
    normalized, got = ints(m.group(1)), ints(m.group(3))
    module = crash.module
    label = module.label if module is not None else "F.layer_norm"
    tail = got[-len(normalized) :] if normalized else ()
    return Explanation(
        f"{label} normalizes the last dimensions {list(normalized)} but got input "
        f"{shape_text(got)}.",
        f"build it as nn.LayerNorm({list(tail) if len(tail) > 1 else tail[0]}) to match the "
        f"input's last dimension{'s' if len(tail) > 1 else ''}.",
        [("input", shape_text(got))],
    )


@rule(r"input\.size\(-1\) must be equal to input_size\. Expected (\d+), got (\d+)")
def _rnn_input(m: re.Match, crash: Crash) -> Explanation:
    expected, got = int(m.group(1)), int(m.group(2))
    module = crash.module
    label = module.label if module is not None else "the recurrent layer"
    inp = first_input(crash)
    batch_first = getattr(module.module, "batch_first", None) if module is not None else None
    layout = "(N, L, features)" if batch_first else "(L, N, features)"
    shape = f" {inp.shape_text}" if inp is not None else ""
    return Explanation(
        f"{label} is built with input_size={expected} but its input{shape} has {got} features "
        f"in the last dimension; with batch_first={batch_first} it reads {layout}.",
        f"build it with input_size={got}, or permute the input to {layout}.",
    )
