"""Updates written by hand: parameters that moved between two backward() calls, no optimizer.

A loop without an optimizer updates the parameters itself: ``p -= lr * p.grad`` under
``no_grad``, ``p.data.add_(p.grad, alpha=-lr)``, ``torch._foreach_add_(params, grads)``. For the
gradients checks (are the gradients cleared between updates, were they cleared before the update
used them) such an update is a step, but no call announces it: it is seen afterwards, at the
next backward(), on one parameter (the sentinel). A post-accumulate-grad hook notes the
sentinel's state as each backward() leaves it; at the next backward() the sentinel has been
updated when its version moved (an in-place update) or its values did (``.data`` bypasses the
version counter: a strided sample of at most 4096 of its values is compared). The modes check
needs less: whether a model that a backward went through in eval mode keeps changing, which
:func:`value_checksum` tells.

Only loops with no optimizer are watched: the detector is closed when an optimizer steps
(optimizers are judged at their steps), and gives up after ``_GIVE_UP`` backward() calls
that updated nothing (gradients used for something else: saliency maps, input attacks).
A restore (best weights copied back, a checkpoint loaded) moves the parameters once; the
checks act only on a pattern of updates, never on one.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ._base import unreal

__all__ = ["HandUpdates", "Interval", "value_checksum", "value_sample"]

OnError = Callable[[str, Exception], None]

_SAMPLE = 4096  # values of the sentinel compared at each backward()
_GIVE_UP = 16  # backward() calls without any update before the detector stops


@dataclass(frozen=True)
class Interval:
    """What happened to the sentinel between the end of one backward() and the next one."""

    backward: int  # the backward() call about to run (1-based)
    updated: bool  # the sentinel was updated in between
    stale: bool  # updated, and its gradient is still the one backward() left, not cleared
    moved_nothing: bool  # updated in place, its values unchanged, its gradient cleared
    grad_norm: float  # the sentinel's gradient norm as the previous backward() left it


@dataclass
class _Snapshot:
    version: int
    sample: torch.Tensor
    grad: weakref.ref[torch.Tensor] | None
    grad_nonzero: bool
    grad_norm: float


class HandUpdates:
    """Sees updates by hand on one parameter of the model trained (see the module docstring)."""

    def __init__(self, on_error: OnError) -> None:
        self._on_error = on_error
        self._param: weakref.ref[torch.nn.Parameter] | None = None
        self._handle: torch.utils.hooks.RemovableHandle | None = None
        self._snapshot: _Snapshot | None = None
        self._backwards = 0
        self._idle = 0  # backward() calls since the start that found no update
        self.updates = 0  # updates by hand seen
        self.closed = False

    @property
    def sentinel(self) -> torch.nn.Parameter | None:
        return None if self._param is None else self._param()

    def follow(self, params: Sequence[torch.Tensor]) -> None:
        """Choose the sentinel among ``params`` (the leaves of a graph about to be run back)."""
        if self.closed or self.sentinel is not None:
            return
        for param in params:
            if isinstance(param, torch.nn.Parameter) and param.requires_grad and not unreal(param):
                self._param = weakref.ref(param)
                hook = functools.partial(_guarded, self)
                self._handle = param.register_post_accumulate_grad_hook(hook)
                return

    def at_backward(self) -> Interval | None:
        """Call before each backward() runs: what happened since the previous one ended."""
        if self.closed:
            return None
        self._backwards += 1
        snapshot, self._snapshot = self._snapshot, None
        param = self.sentinel
        if snapshot is None or param is None:
            return None
        version_moved = param._version != snapshot.version
        values_moved = not torch.equal(value_sample(param), snapshot.sample)
        if not (version_moved or values_moved):
            if not self.updates:
                self._idle += 1
                if self._idle >= _GIVE_UP:
                    self.close()
            return Interval(self._backwards, False, False, False, snapshot.grad_norm)
        self.updates += 1
        grad = param.grad
        with torch.no_grad():
            nonzero = grad is not None and bool(grad.any())
        kept = nonzero and snapshot.grad is not None and snapshot.grad() is grad
        moved_nothing = version_moved and not values_moved and snapshot.grad_nonzero
        return Interval(
            self._backwards, True, kept, moved_nothing and not nonzero, snapshot.grad_norm
        )

    def close(self) -> None:
        """Stop watching (an optimizer stepped, the watch ended, or nothing updates by hand)."""
        self.closed = True
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self._param = None
        self._snapshot = None

    def _note(self, param: torch.Tensor) -> None:
        """The post-accumulate-grad hook: backward() has just left ``param.grad``."""
        grad = param.grad
        if grad is not None and (grad.is_sparse or unreal(grad)):
            self.close()  # sparse gradients (an embedding's) are updated by optimizers only
            return
        with torch.no_grad():
            norm = float(grad.norm()) if grad is not None else 0.0
        self._snapshot = _Snapshot(
            version=param._version,
            sample=value_sample(param).clone(),
            grad=None if grad is None else weakref.ref(grad),
            grad_nonzero=norm > 0.0,
            grad_norm=norm,
        )


def value_sample(param: torch.Tensor, size: int = _SAMPLE) -> torch.Tensor:
    """A strided sample of at most about ``size`` of ``param``'s values (a view: clone it to
    keep it), enough to see an update that moves the whole tensor."""
    flat = param.detach().reshape(-1)
    return flat[:: max(1, flat.numel() // size)]


def _guarded(detector: HandUpdates, param: torch.Tensor) -> None:
    """Run the hook inside the user's backward(): an error switches the detector off."""
    try:
        detector._note(param)
    except Exception as exc:  # a check must never break the user's run
        detector.close()
        detector._on_error("hand-update hook", exc)


def value_checksum(param: torch.Tensor) -> tuple[float, float]:
    """The sum of ``param``'s values and of their squares, in double precision: an update
    moves them (the sum alone misses one that adds to zero, as a two-class bias's does)."""
    with torch.no_grad():
        values = param.detach()
        norm = torch.linalg.vector_norm(values, dtype=torch.float64)  # no float64 copy
        return float(values.sum(dtype=torch.float64)), float(norm)
