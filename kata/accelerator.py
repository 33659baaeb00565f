"""An accelerator for the device katas, real when there is one, simulated when there is not.

On a CPU-only machine every tensor is on the CPU, so the device mistakes (a batch left on the
CPU, a model never moved, ``.numpy()`` on a GPU tensor) cannot happen and a kata about them
would pass broken. Inside ``with accelerator():`` code that picks its device the usual way::

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    x, y = x.to(device), y.to(device)

gets an accelerator: on a machine with a GPU, the GPU itself (nothing is patched); elsewhere
a simulated one, ``cuda:0``, that computes on the CPU but keeps its own device identity.
Mixing it with CPU tensors raises torch's own error, word for word, and ``.numpy()`` needs
``.cpu()`` first, exactly as on a GPU. A training run gives bit-identical numbers on the
simulated device and on the CPU. See docs/accelerator.md.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

from ._simdevice import UnsupportedOperation, is_simulated
from ._simdevice_mode import simulated

__all__ = ["UnsupportedOperation", "accelerator", "is_simulated", "simulated_active"]

_lock = threading.Lock()
_depth = 0


@contextlib.contextmanager
def accelerator() -> Iterator[torch.device]:
    """Run the ``with`` block on an accelerator; yields its device (``cuda:0``).

    With a real GPU (``torch.cuda.is_available()``), nothing changes. Without one, the
    simulated accelerator is installed for the block and removed at its end, whatever
    happens inside; nesting is allowed.
    """
    global _depth
    if _depth == 0 and torch.cuda.is_available():
        yield torch.device("cuda", torch.cuda.current_device())
        return
    with _lock:
        nested = _depth > 0
        _depth += 1
    try:
        if nested:
            yield torch.device("cuda", 0)
        else:
            with simulated():
                yield torch.device("cuda", 0)
    finally:
        with _lock:
            _depth -= 1


def simulated_active() -> bool:
    """Is the simulated accelerator installed right now?"""
    return _depth > 0
