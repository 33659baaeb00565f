"""Checks of the 'optimizers' family: how an optimizer is configured.

adam-weight-decay   Adam, Adamax, NAdam or RAdam with weight_decay > 0: the decay is added
                    to the gradient (an L2 penalty) and then divided by the adaptive
                    denominator, so it is not the weight decay AdamW applies

Each optimizer is judged once, at its first step. The finding points at the line that
builds the optimizer when that line can be found in the source file of the step (one
constructor call of that class there); otherwise at the first ``step()``.
"""

from __future__ import annotations

import ast
import itertools
import linecache
import os
import sys
import types
import weakref
from typing import Any

import torch

from .._findings import Location
from .._location import display_path, frame_location, is_user_file, user_frame
from ._base import Check

# Adam-family optimizers whose weight_decay is coupled (L2) unless decoupled_weight_decay.
_COUPLED = (torch.optim.Adam, torch.optim.Adamax, torch.optim.NAdam, torch.optim.RAdam)

ADAM_WEIGHT_DECAY = (
    "{cls} was built with weight_decay={decay}. In {cls} the decay is added to the gradient "
    "(an L2 penalty) and then divided by the adaptive per-parameter scale, so weights with "
    "large gradients are barely decayed and the regularisation is not the weight decay "
    "you asked for. AdamW applies decoupled weight decay instead: it shrinks every weight by "
    "lr * weight_decay directly, the same for every parameter."
)
ADAM_WEIGHT_DECAY_FIX = (
    "{use}. If an L2 penalty is really what you want, add it to the loss yourself and keep "
    "weight_decay=0."
)
_USE_ADAMW = "Use torch.optim.AdamW(params, lr=..., weight_decay={decay})"
_USE_FLAG = (
    "Pass decoupled_weight_decay=True: {cls}(params, lr=..., weight_decay={decay}, "
    "decoupled_weight_decay=True)"
)


class OptimizerChecks(Check):
    """adam-weight-decay."""

    family = "optimizers"

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        self._seen: dict[int, weakref.ref[Any]] = {}
        self._serials = itertools.count(1)

    def on_step_pre(self, optimizer: Any) -> None:
        known = self._seen.get(id(optimizer))
        if known is not None and known() is optimizer:
            return
        self._seen[id(optimizer)] = weakref.ref(optimizer)
        self._check_weight_decay(optimizer)

    def finish(self) -> None:
        self._seen.clear()

    def _check_weight_decay(self, optimizer: torch.optim.Optimizer) -> None:
        if not isinstance(optimizer, _COUPLED) or isinstance(optimizer, torch.optim.AdamW):
            return
        decays = [
            float(group.get("weight_decay", 0.0))
            for group in optimizer.param_groups
            if not group.get("decoupled_weight_decay", False)
        ]
        decays = [d for d in decays if d > 0]
        if not decays:
            return
        cls = type(optimizer).__name__
        decay = _fmt(max(decays))
        if "decoupled_weight_decay" not in optimizer.defaults:
            use = _USE_ADAMW.format(decay=decay)
        elif isinstance(optimizer, torch.optim.Adam):
            use = _USE_ADAMW.format(decay=decay) + f" (or {cls}(..., decoupled_weight_decay=True))"
        else:
            use = _USE_FLAG.format(cls=cls, decay=decay) + ", or switch to torch.optim.AdamW"
        frame = user_frame()
        step_site = frame_location(frame) if frame is not None else None
        site = _construction_site(frame, cls) or _construction_elsewhere(frame, cls) or step_site
        self.emit(
            "adam-weight-decay",
            key=("adam-weight-decay", next(self._serials)),
            subject=optimizer,
            location=site,
            message=ADAM_WEIGHT_DECAY.format(cls=cls, decay=decay),
            fix=ADAM_WEIGHT_DECAY_FIX.format(use=use),
            evidence={
                "optimizer": cls,
                "weight_decay": ", ".join(_fmt(d) for d in decays),
                "learning rate": ", ".join(_fmt(float(g["lr"])) for g in optimizer.param_groups),
                "param groups with decay": f"{len(decays)} of {len(optimizer.param_groups)}",
            },
        )


def _construction_site(frame: types.FrameType | None, cls: str) -> Location | None:
    """The ``cls(...)`` call that built the optimizer, in the source file of the user's step.

    Preferred: the one call inside a function on the current stack (nearest frame first),
    then the one inside a class with a method on the stack, then the only one in the file.
    Calls passing decoupled_weight_decay=True or weight_decay=0 cannot be it.
    """
    if frame is None:
        return None
    filename = frame.f_code.co_filename
    source = "".join(linecache.getlines(filename, frame.f_globals))
    if cls not in source:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    scopes = [n for n in ast.walk(tree) if isinstance(n, (*_FUNCTIONS, ast.ClassDef))]
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and _called_name(n) == cls and _may_decay(n)
    ]
    if not calls:
        return None

    def innermost(line: int, kinds: tuple[type, ...]) -> ast.AST | None:
        inside = [
            s
            for s in scopes
            if isinstance(s, kinds) and s.lineno <= line <= (s.end_lineno or s.lineno)  # type: ignore[attr-defined]
        ]
        return max(inside, key=lambda s: s.lineno, default=None)  # type: ignore[attr-defined]

    lines = []  # the lines of this file on the stack, innermost first
    f: types.FrameType | None = frame
    while f is not None:
        if f.f_code.co_filename == filename:
            lines.append(f.f_lineno)
        f = f.f_back
    chosen = None
    for kinds in (_FUNCTIONS, (ast.ClassDef,)):
        for line in lines:
            scope = innermost(line, kinds)
            if kinds is not _FUNCTIONS and scope is None:
                continue
            found = [c for c in calls if innermost(c.lineno, kinds) is scope]
            if len(found) == 1:
                chosen = found[0]
                break
        if chosen is not None:
            break
    if chosen is None and len(calls) == 1:
        chosen = calls[0]
    if chosen is None:
        return None
    function = innermost(chosen.lineno, _FUNCTIONS)
    name = function.name if function is not None else "<module>"  # type: ignore[attr-defined]
    return Location(frame_location(frame).file, chosen.lineno, name)


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _construction_elsewhere(frame: types.FrameType | None, cls: str) -> Location | None:
    """The ``cls(...)`` call that built the optimizer, in another file of the user's.

    When the first step is taken in another file (a test, a trainer module) than the one that
    built the optimizer (a ``configure_optimizer()`` helper next to it), the loaded modules of the
    stepping file's folder are read: their single decaying ``cls(...)`` call, if there is exactly
    one, is the place to fix. Other folders (a test suite's other modules) are never guessed from.
    """
    if frame is None:
        return None
    stepping = frame.f_code.co_filename
    folder = os.path.dirname(os.path.abspath(stepping))
    found: list[Location] = []
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or filename == stepping or not is_user_file(filename):
            continue
        if os.path.dirname(os.path.abspath(filename)) != folder:
            continue
        source = "".join(linecache.getlines(filename))
        if cls not in source:
            continue
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        functions = [n for n in ast.walk(tree) if isinstance(n, _FUNCTIONS)]
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and _called_name(call) == cls and _may_decay(call):
                inside = [
                    f for f in functions if f.lineno <= call.lineno <= (f.end_lineno or f.lineno)
                ]
                name = max(inside, key=lambda f: f.lineno).name if inside else "<module>"
                found.append(Location(display_path(filename), call.lineno, name))
            if len(found) > 1:
                return None  # two candidates: better no place than the wrong one
    return found[0] if len(found) == 1 else None


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _may_decay(call: ast.Call) -> bool:
    """False when the call's own keywords rule out coupled weight decay."""
    for k in call.keywords:
        if isinstance(k.value, ast.Constant):
            if k.arg == "decoupled_weight_decay" and k.value.value is True:
                return False
            if k.arg == "weight_decay" and k.value.value == 0:
                return False
    return True


def _fmt(v: float) -> str:
    return f"{v:g}"
