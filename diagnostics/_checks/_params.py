"""What happened to an optimizer's gradients between two of its steps.

The gradients checks ask, at every ``optimizer.step()``: did backward() add onto gradients
that an earlier step already used, and were the gradients cleared after backward()? Both
answers come from a gradient tensor's identity and its version counter, with no copy of any
value:

* autograd accumulates into an existing ``.grad`` in place, which bumps its version by
  exactly one; ``zero_()``, gradient clipping and ``GradScaler.unscale_`` bump it too;
  ``zero_grad(set_to_none=True)`` and ``p.grad = None`` drop the tensor, so the next
  backward() creates a new one.
* So the first accumulation after a step lands on the step's own gradients exactly when
  the ``.grad`` tensor is the one the step saw and its version moved by one: nothing
  cleared it in between.

``zero_grad()`` clears all of an optimizer's gradients at once, so one parameter per
optimizer (its sentinel: the first one that has a gradient) tells the story of all of them,
at the cost of one post-accumulate-grad hook per optimizer. The sentinel is hooked at its
optimizer's first step and the hook removed by :meth:`ParamTracker.close`; the other
parameters are read only when a finding is about to be reported.

Writing through ``p.grad.data`` bypasses the version counter, so before the first
accumulation after a step, a sentinel gradient that looks untouched is read once (one
reduction, only in that suspicious state): all zero means ``p.grad.data.zero_()`` cleared it.
Clearing the gradients of only some of an optimizer's parameters is judged by the
sentinel's.
"""

from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Callable

import torch

from ._base import unreal

OnError = Callable[[str, Exception], None]

_SERIALS = itertools.count(1)
_PROBES = 8  # value reads allowed per optimizer to tell clipping from clearing
_SNAPSHOT_STEPS = 3  # first steps after which every gradient's identity is noted


class Sentinel:
    """The parameter whose gradient stands for its optimizer's."""

    __slots__ = (
        "armed",
        "grad_ref",
        "handle",
        "on_error",
        "owner",
        "pre_handle",
        "ref",
        "stale",
        "touched",
        "version",
        "zeroed",
    )

    def __init__(self, param: torch.Tensor, owner: OptimizerState, on_error: OnError) -> None:
        self.ref = weakref.ref(param)
        self.on_error = on_error
        self.owner = owner
        self.grad_ref: weakref.ref[torch.Tensor] | None = None
        self.version = -1  # the gradient's version when last seen
        self.armed = False  # the next accumulation is the first since a step
        self.stale = False  # the gradient holds values a step already used
        self.touched = False  # backward() reached it since the last step
        self.zeroed = False  # found all zero, unversioned, just before an accumulation
        self.handle = param.register_post_accumulate_grad_hook(
            functools.partial(_guarded, _accumulated, self)
        )
        self.pre_handle = param.register_hook(functools.partial(_guarded, _incoming, self))
        self.remember(param.grad)

    def remove(self) -> None:
        self.handle.remove()
        self.pre_handle.remove()

    def remember(self, grad: torch.Tensor | None) -> None:
        """Note ``grad`` as the parameter's current gradient."""
        if grad is None:
            self.grad_ref = None
            return
        if self.grad_ref is None or self.grad_ref() is not grad:
            self.grad_ref = weakref.ref(grad)
        self.version = grad._version

    def unchanged(self, grad: torch.Tensor | None) -> bool:
        """Is ``grad`` the tensor last seen, not modified in place since?"""
        return (
            grad is not None
            and self.grad_ref is not None
            and self.grad_ref() is grad
            and grad._version == self.version
        )


class OptimizerState:
    """One optimizer, as its steps and its sentinel's gradient have shown it."""

    __slots__ = (
        "__weakref__",
        "backwards_at_step",
        "got_grad",
        "groups",
        "probes_left",
        "ref",
        "reported",
        "sentinel",
        "serial",
        "snapshot",
        "steps",
        "unversioned",
    )

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.ref = weakref.ref(optimizer)
        self.serial = next(_SERIALS)
        self.sentinel: Sentinel | None = None
        self.groups = len(optimizer.param_groups)
        self.steps = 0  # completed steps seen
        self.got_grad = False  # any of its parameters ever had a gradient
        self.probes_left = _PROBES
        self.reported: set[str] = set()
        # Every gradient as a step left it (first steps only): (param, grad, version).
        self.snapshot: list[tuple[weakref.ref, weakref.ref, int]] = []
        self.backwards_at_step = 0
        self.unversioned = False  # gradients cleared through .data: versions tell nothing

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        return self.ref()

    def params(self) -> list[torch.Tensor]:
        opt = self.ref()
        if opt is None:
            return []
        return [p for group in opt.param_groups for p in group["params"]]


class ParamTracker:
    """Keeps one sentinel per optimizer and the per-step bookkeeping of its gradient."""

    def __init__(self, *, on_error: OnError) -> None:
        self._on_error = on_error  # a hook of a sentinel failed: the check is switched off
        self._optimizers: dict[int, OptimizerState] = {}
        self._last: OptimizerState | None = None
        self.backwards = 0  # backward() calls seen (kept by the gradients check)

    # -- lookup -----------------------------------------------------------------------------
    def optimizer(self, optimizer: torch.optim.Optimizer) -> OptimizerState:
        """The state of ``optimizer`` (created, and its sentinel chosen, on first sight)."""
        state = self._last
        if state is None or state.ref() is not optimizer:
            state = self._optimizers.get(id(optimizer))
            if state is None or state.ref() is not optimizer:
                state = OptimizerState(optimizer)
                self._optimizers[id(optimizer)] = state
            self._last = state
        if state.sentinel is None or len(optimizer.param_groups) != state.groups:
            state.groups = len(optimizer.param_groups)
            self._choose_sentinel(state)
        return state

    def optimizers(self) -> list[OptimizerState]:
        return [s for s in self._optimizers.values() if s.ref() is not None]

    def optimized_ids(self) -> set[int]:
        """The ids of every parameter held by an optimizer seen stepping."""
        return {id(p) for state in self.optimizers() for p in state.params()}

    # -- events -----------------------------------------------------------------------------
    def after_step(self, state: OptimizerState) -> None:
        """The optimizer stepped: its current gradients are now 'used'."""
        state.steps += 1
        state.snapshot = []
        if state.steps <= _SNAPSHOT_STEPS:
            state.backwards_at_step = self.backwards
            state.snapshot = [
                (weakref.ref(p), weakref.ref(p.grad), p.grad._version)
                for p in state.params()
                if p.grad is not None
            ]
        sentinel = state.sentinel
        param = sentinel.ref() if sentinel is not None else None
        if param is None or param.grad is None:
            # The sentinel got no gradient this time: one that does stands for them better.
            self._choose_sentinel(state)
            sentinel = state.sentinel
            param = sentinel.ref() if sentinel is not None else None
        if sentinel is None or param is None:
            return
        grad = param.grad
        sentinel.remember(grad)
        sentinel.armed = grad is not None
        sentinel.stale = False
        sentinel.touched = False
        if grad is not None:
            state.got_grad = True

    def take_stale(self, state: OptimizerState) -> bool:
        """Does the gradient about to be used still hold a previous step's part?

        Each stale accumulation answers True once: asked before a step, then again after it
        (a closure passed to step() runs its backward() in between), nothing counts twice.
        """
        sentinel = state.sentinel
        if sentinel is None or not sentinel.stale:
            return False
        sentinel.stale = False
        param = sentinel.ref()
        grad = None if param is None else param.grad
        return grad is not None and sentinel.grad_ref is not None and sentinel.grad_ref() is grad

    def partly_stale(self, state: OptimizerState) -> list[torch.Tensor]:
        """Parameters whose gradients were not cleared although others were (first steps only).

        One optimizer over an encoder and a decoder of which only ``encoder.zero_grad()`` is
        called: the sentinel is cleared, the decoder's gradients pile up. A gradient that is the
        tensor the last step used, moved on by exactly one version per backward() since, was
        only added to; any other count (a zero_() between, a backward() that did not reach it)
        is not judged.
        """
        snapshot, state.snapshot = state.snapshot, []
        done = self.backwards - state.backwards_at_step
        if not snapshot or done < 1 or state.unversioned:
            return []
        stale = []
        for param_ref, grad_ref, version in snapshot:
            param, grad = param_ref(), grad_ref()
            if param is None or grad is None or param.grad is not grad:
                continue
            if grad._version == version + done:
                stale.append(param)
        return stale

    def touched(self, state: OptimizerState) -> bool:
        """Did backward() reach the optimizer's gradients since its last step?"""
        return state.sentinel is not None and state.sentinel.touched

    def cleared_since_backward(self, state: OptimizerState) -> list[torch.Tensor] | None:
        """If every gradient of the optimizer is gone (None or zero) although backward() reached
        it since the last step, the parameters concerned; otherwise None.

        A gradient modified in place since backward() is read (one reduction) to tell clearing
        from clipping or unscaling; after a few non-zero reads the loop is known to clip, not
        clear, and no more values are read.
        """
        sentinel = state.sentinel
        if sentinel is None or not sentinel.touched:
            return None
        param = sentinel.ref()
        if param is None:
            return None
        grad = param.grad
        if sentinel.unchanged(grad):
            return None  # as backward() left it: not cleared
        if grad is not None:
            if state.probes_left <= 0:
                return None
            with torch.no_grad():
                if bool(grad.any()):
                    state.probes_left -= 1
                    return None
        # The sentinel's gradient is gone: the others must be too for the step to do nothing.
        params = [p for p in state.params() if p.requires_grad]
        with torch.no_grad():
            if any(p.grad is not None and bool(p.grad.any()) for p in params):
                return None
        return params

    # -- internals --------------------------------------------------------------------------
    def _choose_sentinel(self, state: OptimizerState) -> None:
        params = [p for p in state.params() if p.requires_grad and not unreal(p)]
        with_grad = [p for p in params if p.grad is not None]
        if with_grad:
            state.got_grad = True
        chosen = with_grad[0] if with_grad else (params[0] if params else None)
        old = state.sentinel
        if chosen is None or (old is not None and old.ref() is chosen):
            return
        if old is not None and old.ref() is not None and not with_grad:
            return  # no better choice: keep the one we have
        if old is not None:
            old.remove()
        state.sentinel = Sentinel(chosen, state, self._on_error)

    def close(self) -> None:
        """Remove every hook; the tracker is not used after this."""
        for state in self._optimizers.values():
            if state.sentinel is not None:
                state.sentinel.remove()
                state.sentinel = None
        self._optimizers.clear()
        self._last = None


def _guarded(
    hook: Callable[[Sentinel, torch.Tensor], None], sentinel: Sentinel, t: torch.Tensor
) -> None:
    """Run a sentinel's hook inside the user's backward(): an error switches the check off."""
    try:
        hook(sentinel, t)
    except Exception as exc:  # a check must never break the user's run
        if not unreal(t):
            sentinel.on_error(hook.__name__, exc)


def _accumulated(sentinel: Sentinel, param: torch.Tensor) -> None:
    """Post-accumulate-grad hook: backward() just added into ``param.grad``."""
    grad = param.grad
    if grad is None:
        return
    # Same tensor, one version further: this accumulation landed on the values last seen.
    same = sentinel.grad_ref is not None and sentinel.grad_ref() is grad
    version = grad._version
    contiguous = same and version == sentinel.version + 1
    if sentinel.armed:  # the first accumulation since the last step
        sentinel.armed = False
        sentinel.stale = contiguous and not sentinel.zeroed
        sentinel.zeroed = False
    elif not contiguous:
        sentinel.stale = False  # cleared or replaced since the previous accumulation
    if not same:
        sentinel.grad_ref = weakref.ref(grad)
    sentinel.version = version
    sentinel.touched = True
    sentinel.owner.got_grad = True


def _incoming(sentinel: Sentinel, grad_in: torch.Tensor) -> None:
    """Tensor hook: a gradient is about to be accumulated into the sentinel's ``.grad``."""
    if not sentinel.armed:
        return
    param = sentinel.ref()
    current = None if param is None else param.grad
    if current is not None and sentinel.unchanged(current):
        with torch.no_grad():
            sentinel.zeroed = not bool(current.any())
        if sentinel.zeroed:
            sentinel.owner.unversioned = True
