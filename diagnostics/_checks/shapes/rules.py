"""The rules of the shapes family: a table of known error texts, each with the function that
explains it, filled by the ``@rule`` decorator next to each rule (diagnostics/_checks/shapes/
layers.py, loss_inputs.py), and the helpers the rules share.

A rule is tried when its pattern is found in an error's text, in the order the rules are
registered; it reads the shapes from the traceback's frames (``Crash``) and returns an
``Explanation``, or None to let the crash go unexplained.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from .._crash import Crash, ModuleCall, TensorRef, shape_text

NUMS = r"([\d, ]*)"  # the numbers of a shape as torch prints it: "32, 8, 8"
CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass
class Explanation:
    message: str
    fix: str
    evidence: list[tuple[str, str]] = field(default_factory=list)


Rule = Callable[[re.Match, Crash], "Explanation | None"]
RULES: list[tuple[re.Pattern[str], Rule]] = []


def rule(pattern: str, flags: int = 0) -> Callable[[Rule], Rule]:
    """Register the decorated function as the rule for error texts matching ``pattern``."""

    def register(fn: Rule) -> Rule:
        RULES.append((re.compile(pattern, flags), fn))
        return fn

    return register


def ints(text: str, *, signed: bool = False) -> tuple[int, ...]:
    pattern = r"-?\d+" if signed else r"\d+"
    return tuple(int(n) for n in re.findall(pattern, text or ""))


def first_input(crash: Crash) -> TensorRef | None:
    module = crash.module
    if module is not None and module.inputs:
        return crash.named(module.inputs[0])
    if crash.op is not None and "input" in crash.op.tensors:
        return crash.named(crash.op.tensors["input"])
    return crash.operands[0] if crash.operands else None


def conv_input(crash: Crash, shape: tuple[int, ...]) -> TensorRef | None:
    """The tensor the convolution got: the conv module's input, or the operand that the
    error's shape describes (torch shows an unbatched input with a batch of one added)."""
    module = crash.module
    if module is not None and isinstance(module.module, CONVS) and module.inputs:
        return crash.named(module.inputs[0])
    for ref in crash.operands:
        if ref.shape == shape or (shape[:1] == (1,) and ref.shape == shape[1:]):
            return crash.named(ref)
    return None


def desc(ref: TensorRef | None, shape: tuple[int, ...], crash: Crash) -> str:
    """ "x (32, 8, 8, 1)" with the user's name for the tensor, else "input (32, 8, 8, 1)"."""
    if ref is None:
        return f"input {shape_text(shape)}"
    return f"{crash.user_name(ref.tensor) or 'input'} {ref.shape_text}"


def user_or(ref: TensorRef | None, crash: Crash, default: str) -> str:
    name = crash.user_name(ref.tensor) if ref is not None else None
    return name if name and all(p.isidentifier() for p in name.split(".")) else default


def spatial(dims: int) -> str:
    return {1: "L", 2: "H, W", 3: "D, H, W"}.get(dims, "...")


def to_channels_first(dims: int) -> str:
    order = ", ".join(str(i) for i in (0, dims + 1, *range(1, dims + 1)))
    return f"permute({order})"


def square_side(per_channel: int, dims: int) -> int | None:
    if dims < 1 or per_channel < 1:
        return None
    side = round(per_channel ** (1 / dims))
    return side if side**dims == per_channel else None


def in_module(module: ModuleCall | None) -> str:
    return f" in {module.label}" if module is not None else ""


def operands_text(crash: Crash) -> str:
    refs = crash.operands or tuple(crash.evidence_tensors())
    if not refs:
        return ""
    return " and ".join(r.describe(device=False) for r in refs[:4])


def operand_evidence(crash: Crash) -> list[tuple[str, str]]:
    return [(r.name, r.shape_text) for r in crash.evidence_tensors()[:6]]


def first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""
