"""What the engine's patches need to stay out of the user's way.

TorchScript compiles a patched function as the original it wraps (``scriptable``); torch's
warnings name the user's line, not a wrapper (``warn_past``); events about meta or fake
tensors, which hold no values, are told apart cheaply (``unreal_arg``, ``unreal_optimizer``,
``involves_unreal``); and the scheduler classes whose ``step`` is patched are listed.
"""

from __future__ import annotations

import builtins
import dis
import functools
import sys
import types
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.optim import lr_scheduler as _sched_mod

from ._checks._base import unreal

_Tensor, _Parameter = torch.Tensor, nn.Parameter
# The innermost torch.func transform running (vmap, grad, jacrev...), or None: inside one,
# tensors are wrappers whose values cannot be read (tolist() and item() raise).
_transform: Callable[[], Any] = getattr(
    getattr(torch._C, "_functorch", None), "peek_interpreter_stack", lambda: None
)


def in_transform() -> bool:
    """Is a torch.func transform (vmap, grad, ...) running?"""
    return _transform() is not None


_is_compiling = torch.compiler.is_compiling


@functools.cache
def warn_past(original: Callable[..., Any], engine_file: str) -> Callable[..., Any]:
    """``warnings.warn`` that blames the user's line, not one of the engine's wrappers.

    torch warns about its caller (``stacklevel=2``: the scheduler's order, a loss's broadcast);
    inside a watch that caller is one of the engine's wrappers (their code is in
    ``engine_file``), so the warning would name diagnostics/_engine.py and share one "shown
    once" slot for every line of the user's. The engine's frames are skipped, so the warning
    names the line it names without a watch.
    Cached (one wrapper per original, kept alive) because TorchScript knows ``warnings.warn``
    by identity: the wrapper is registered as the same builtin op.
    """

    def warn(
        message: Any, category: Any = None, stacklevel: int = 1, source: Any = None, **kw: Any
    ) -> Any:
        if _is_compiling():  # dynamo traces the original as it knows it
            return original(message, category, stacklevel + 1, source, **kw)
        skipped, counted = 0, 1
        frame: types.FrameType | None = sys._getframe(1)  # level 1: the caller, whoever it is
        while counted < stacklevel and frame is not None:
            frame = frame.f_back
            if frame is not None and frame.f_code.co_filename == engine_file:
                skipped += 1
            else:
                counted += 1
        return original(message, category, stacklevel + skipped + 1, source, **kw)

    functools.update_wrapper(warn, original)
    op = torch.jit._builtins._find_builtin(original)
    if op is not None:
        torch.jit._builtins._register_builtin(warn, op)
    return warn


def scriptable(wrapper: Callable[..., Any], original: Any) -> Any:
    """``wrapper`` as a function that TorchScript reads as ``original``.

    Scripting a module whose forward calls a patched ``F.dropout`` compiles the function the
    name holds: TorchScript reads the source of ``__wrapped__`` (the original's) and resolves
    its names through the function's globals and closure. A wrapper that lives in the original's
    globals, with closure variables no original uses (``d_*``, ``original``), compiles exactly
    as the original does, during a watch and after it.
    """
    if isinstance(original, (staticmethod, classmethod)) or not hasattr(original, "__globals__"):
        functools.update_wrapper(wrapper, original)
        return wrapper
    code = wrapper.__code__  # type: ignore[attr-defined]
    missing = [n for n in _global_names(code) if n not in original.__globals__]
    clone = types.FunctionType(
        code,
        original.__globals__ if not missing else wrapper.__globals__,  # type: ignore[attr-defined]
        wrapper.__name__,
        wrapper.__defaults__,  # type: ignore[attr-defined]
        wrapper.__closure__,  # type: ignore[attr-defined]
    )
    clone.__kwdefaults__ = wrapper.__kwdefaults__  # type: ignore[attr-defined]
    functools.update_wrapper(clone, original)
    return clone


def unreal_arg(arg: Any) -> bool:
    """Is ``arg`` a meta or fake tensor (a plain tensor is told apart at once)?"""
    if type(arg) is _Tensor:
        return bool(arg.is_meta)
    return isinstance(arg, _Tensor) and unreal(arg)


def unreal_optimizer(opt: torch.optim.Optimizer) -> bool:
    for group in opt.param_groups:
        for p in group["params"]:
            return p.is_meta or (type(p) is not _Parameter and unreal(p))
    return False


@functools.cache
def _global_names(code: types.CodeType) -> frozenset[str]:
    """The global (or builtin) names a wrapper's code reads."""
    names = {i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_GLOBAL"}
    return frozenset(n for n in names if not hasattr(builtins, n))


def involves_unreal(args: Any, depth: int = 0) -> bool:
    """Do the event's arguments hold meta or fake tensors (checked a few levels deep), or
    tensors that a torch.func transform wraps?"""
    if depth == 0 and in_transform():
        return True
    for arg in args:
        if isinstance(arg, torch.Tensor):
            found = unreal(arg)
        elif isinstance(arg, nn.Module):
            param = next(arg.parameters(), None)
            found = param is not None and unreal(param)
        elif isinstance(arg, torch.optim.Optimizer):
            found = unreal_optimizer(arg)
        elif depth < 2 and isinstance(arg, (tuple, list)):
            found = involves_unreal(arg, depth + 1)
        elif depth < 2 and isinstance(arg, dict):
            found = involves_unreal(tuple(arg.values()), depth + 1)
        else:
            found = False
        if found:
            return True
    return False


def scheduler_classes() -> list[type]:
    """LRScheduler and every class in torch.optim.lr_scheduler that defines its own step()."""
    classes: set[type] = {_sched_mod.LRScheduler}
    for obj in vars(_sched_mod).values():
        if isinstance(obj, type) and "step" in obj.__dict__:
            classes.add(obj)
    return sorted(classes, key=lambda c: c.__name__)
