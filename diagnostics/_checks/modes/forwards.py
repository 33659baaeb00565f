"""What the modes check reads of a root forward: where it was called from (the user's frames,
kept as plain sites), the autograd nodes of its output, whether torch.utils.checkpoint ran it,
and the layers of its model whose behaviour depends on the mode (searched now and then)."""

from __future__ import annotations

import os
import sys
import weakref
from typing import Any

import torch
from torch import nn

from ..._findings import Location
from ..._location import display_path, is_user_frame
from .layers import mode_dependent

Site = tuple[str, int, str]  # (filename, line, function), turned into a Location when reported

CUSTOM_REFRESH = 64  # root forwards between two searches of a model for custom layers

# The diagnostics package (this file is diagnostics/_checks/modes/forwards.py).
_HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_MODULE_CALL = os.path.join("torch", "nn", "modules", "module.py")
_CHECKPOINT = os.path.join("torch", "utils", "checkpoint.py")
# torch's own machinery that runs a model's forward for its own ends: tracing and export,
# quantization (prepare, convert and its observers), FX.
_TORCH_MACHINERY = tuple(
    os.path.join(os.path.dirname(torch.__file__), folder) + os.sep
    for folder in ("ao", "quantization", "jit", "onnx", "fx", "export")
)


class RootLayers:
    """What a search of a root model found, kept until the next search."""

    __slots__ = ("layers", "plain", "refresh", "rnn_dropout", "root")

    def __init__(self, root: nn.Module) -> None:
        modules = list(root.modules())
        self.root = weakref.ref(root)
        # custom layers whose forward() reads self.training (weakly)
        self.layers = [weakref.ref(m) for m in modules if mode_dependent(type(m))]
        # an nn.RNN/LSTM/GRU with dropout between layers (it calls no F.dropout)
        self.rnn_dropout = any(
            isinstance(m, nn.RNNBase) and m.dropout > 0 and m.num_layers > 1 for m in modules
        )
        self.plain = not self.layers and not self.rnn_dropout  # nothing depends on the mode
        self.refresh = CUSTOM_REFRESH  # root forwards until the next search


def user_frames(skip: int, limit: int) -> tuple[Site, ...]:
    """The innermost ``limit`` user frames, as sites (cheap to keep: no frame held)."""
    out: list[Site] = []
    frame: Any = sys._getframe(skip)
    while frame is not None and len(out) < limit:
        if is_user_frame(frame):
            code = frame.f_code
            out.append((code.co_filename, frame.f_lineno, code.co_name))
        frame = frame.f_back
    return tuple(out)


def site_location(site: Site | None) -> Location | None:
    return Location(display_path(site[0]), site[1], site[2]) if site else None


def call_chain(frames: tuple[Site, ...]) -> str:
    return " <- ".join(f"{fn}() at {display_path(file)}:{line}" for file, line, fn in frames)


def grad_fns(output: Any) -> tuple[Any, ...]:
    """The distinct grad_fn nodes of the tensors in a forward's output (up to 4)."""
    if isinstance(output, torch.Tensor):
        fn = output.grad_fn
        return (fn,) if fn is not None else ()
    if isinstance(output, dict):
        output = list(output.values())
    if not isinstance(output, (tuple, list)):
        return ()
    found: list[Any] = []
    for item in output[:8]:
        if isinstance(item, (tuple, list)):
            items: Any = item[:4]
        else:
            items = (item,)
        for tensor in items:
            if isinstance(tensor, torch.Tensor) and tensor.grad_fn is not None:
                fn = tensor.grad_fn
                if all(fn is not other for other in found):
                    found.append(fn)
    return tuple(found[:4])


def called_by_checkpoint() -> bool:
    """Is the root module's caller torch.utils.checkpoint (use_reentrant=True)?"""
    frame: Any = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith(_HERE) or name.endswith(_MODULE_CALL)):
            return name.endswith(_CHECKPOINT)
        frame = frame.f_back
    return False


def run_by_torch(caller: Any) -> bool:
    """Did torch itself run this root forward (``caller`` is the frame that called it) for a
    trace, an export or a quantization step (``convert`` runs each weight's observer), rather
    than the user's code training or evaluating the model?"""
    return caller.f_code.co_filename.startswith(_TORCH_MACHINERY) or torch.jit.is_tracing()


def is_direct_call(site: Site) -> bool:
    """Was the root called from the user's code (not from a library installed in site-packages,
    such as a model-summary tool)?"""
    return "site-packages" not in site[0] and "dist-packages" not in site[0]
