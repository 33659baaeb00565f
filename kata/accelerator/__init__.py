"""An accelerator for the device katas: the real GPU when there is one, a simulated one if not.

On a CPU-only machine every tensor is on the CPU, so the device mistakes (a batch left on the
CPU, a model never moved, ``.numpy()`` on a GPU tensor) cannot happen and a kata about them
would pass broken. Inside ``with accelerator():`` code that picks its device the usual way::

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    x, y = x.to(device), y.to(device)

gets an accelerator: on a machine with a GPU, the GPU itself (nothing is patched); elsewhere a
simulated ``cuda:0`` that computes on the CPU but keeps its own device identity. Mixing it with
CPU tensors raises torch's own error, word for word, and ``.numpy()`` needs ``.cpu()`` first,
as on a GPU; a training run computes the same numbers as on the CPU. See docs/accelerator.md.

The room: ``device`` (the simulated tensor and its moves), ``rules`` (which tensors may meet,
in torch's words) and ``mode`` (where plain tensors are put on it, and torch.cuda). It imports
nothing else of ``kata``; the katas and the plugin import it from here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import torch

from .device import DEVICE, UnsupportedOperation, is_simulated
from .mode import modes, patch_torch

__all__ = ["UnsupportedOperation", "accelerator", "is_simulated", "simulated_active"]

_lock = threading.Lock()
_threads_inside = 0  # threads inside accelerator(): the torch.cuda patches are process-wide
_undo: Callable[[], None] | None = None
_local = threading.local()  # .depth: this thread's nesting (torch's modes are per thread)


@contextlib.contextmanager
def accelerator() -> Iterator[torch.device]:
    """Run the ``with`` block on an accelerator; yields its device, ``cuda:0``.

    With a real GPU (``torch.cuda.is_available()``), nothing changes. Without one, the
    simulated accelerator is installed for the block and removed at its end, whatever happens
    inside. Blocks nest, and other threads may enter their own.
    """
    global _threads_inside, _undo
    depth = getattr(_local, "depth", 0)
    if depth:  # nested in this thread: already simulated here
        _local.depth = depth + 1
        try:
            yield DEVICE
        finally:
            _local.depth = depth
        return
    if not simulated_active() and torch.cuda.is_available():
        yield torch.device("cuda", torch.cuda.current_device())
        return
    with _lock:
        if _threads_inside == 0:
            _undo = patch_torch()
        _threads_inside += 1
    _local.depth = 1
    try:
        with modes():
            yield DEVICE
    finally:
        _local.depth = 0
        with _lock:
            _threads_inside -= 1
            if _threads_inside == 0 and _undo is not None:
                _undo()
                _undo = None


def simulated_active() -> bool:
    """Is the simulated accelerator installed in this process right now?"""
    return _threads_inside > 0
