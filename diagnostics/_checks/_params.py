"""What happened to each optimized parameter's gradient between two optimizer steps.

The gradients checks ask, at every ``optimizer.step()``: did backward() add onto gradients
that an earlier step already used, and were the gradients cleared after backward()? Both
answers come from the gradient tensor's identity and its version counter, with no copy of
any value:

* autograd accumulates into an existing ``.grad`` in place, which bumps its version by
  exactly one; ``zero_()``, gradient clipping and ``GradScaler.unscale_`` bump it too;
  ``zero_grad(set_to_none=True)`` and ``p.grad = None`` drop the tensor, so the next
  backward() creates a new one.
* So the first accumulation after a step lands on the step's own gradients exactly when
  the ``.grad`` tensor is the one the step saw and its version moved by one: nothing
  cleared it in between.

One post-accumulate-grad hook per parameter feeds this, registered at its optimizer's first
step (parameters no optimizer ever steps are never hooked) and removed by :meth:`close`.
Writing through ``p.grad.data`` bypasses the version counter, so clearing gradients with
``p.grad.data.zero_()`` looks like no clearing at all; ``zero_grad()``, ``p.grad = None``
and ``p.grad.zero_()`` are all seen.
"""

from __future__ import annotations

import functools
import itertools
import weakref
from typing import Any

import torch

_SERIALS = itertools.count(1)


class ParamState:
    """One optimized parameter, as its gradient hook and the optimizer's steps see it."""

    __slots__ = ("armed", "grad_ref", "owner", "ref", "stale", "touched", "version")

    def __init__(self, param: torch.Tensor, owner: OptimizerState) -> None:
        self.ref = weakref.ref(param)
        self.owner = owner
        self.grad_ref: weakref.ref[torch.Tensor] | None = None
        self.version = -1  # the gradient's version when last seen
        self.armed = False  # the next accumulation is the first since a step
        self.stale = False  # the gradient holds values a step already used
        self.touched = False  # backward() reached it since the last step

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
    """One optimizer: its hooked parameters and what its steps have seen."""

    __slots__ = (
        "__weakref__",
        "any_stale",
        "got_grad",
        "params",
        "probes_left",
        "ref",
        "reported",
        "serial",
        "size",
        "steps",
        "touched",
    )

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.ref = weakref.ref(optimizer)
        self.serial = next(_SERIALS)
        self.params: list[ParamState] = []
        self.size = -1  # number of parameters in its groups when last synchronised
        self.steps = 0  # completed steps seen
        self.got_grad = False  # any of its parameters ever had a gradient
        self.any_stale = False  # some parameter accumulated onto a step's gradients
        self.touched = False  # backward() reached one of its parameters since its last step
        self.probes_left = 8  # value checks allowed to tell clipping from clearing
        self.reported: set[str] = set()

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        return self.ref()

    def label(self) -> str:
        opt = self.ref()
        return type(opt).__name__ if opt is not None else "optimizer"


class ParamTracker:
    """Hooks the optimizers' parameters and keeps the per-step bookkeeping of their gradients."""

    def __init__(self) -> None:
        self._optimizers: dict[int, OptimizerState] = {}
        self._params: dict[int, ParamState] = {}
        self._handles: list[Any] = []

    # -- lookup -----------------------------------------------------------------------------
    def optimizer(self, optimizer: torch.optim.Optimizer) -> OptimizerState:
        """The state of ``optimizer``, hooking any parameter it holds that is not hooked yet."""
        state = self._optimizers.get(id(optimizer))
        if state is None or state.ref() is not optimizer:
            state = OptimizerState(optimizer)
            self._optimizers[id(optimizer)] = state
        size = sum(len(group["params"]) for group in optimizer.param_groups)
        if size != state.size:
            self._sync(state, optimizer)
            state.size = size
        return state

    def optimizers(self) -> list[OptimizerState]:
        return [s for s in self._optimizers.values() if s.ref() is not None]

    def owner_of(self, param: torch.Tensor) -> OptimizerState | None:
        """The optimizer holding ``param``, among those seen stepping."""
        state = self._params.get(id(param))
        if state is None or state.ref() is not param:
            return None
        return state.owner

    # -- events -----------------------------------------------------------------------------
    def after_step(self, state: OptimizerState) -> None:
        """The optimizer stepped: its current gradients are now 'used'."""
        state.steps += 1
        state.touched = False
        state.any_stale = False
        for ps in state.params:
            param = ps.ref()
            grad = None if param is None else param.grad
            ps.remember(grad)
            ps.armed = grad is not None
            ps.stale = False
            ps.touched = False
            if grad is not None:
                state.got_grad = True

    def stale_params(self, state: OptimizerState) -> list[torch.Tensor]:
        """Parameters whose gradient, about to be used, still holds a previous step's part.

        Each stale accumulation is returned once: asked before a step, then again after it
        (a closure passed to step() runs its backward() in between), nothing is counted twice.
        """
        if not state.any_stale:
            return []
        state.any_stale = False
        out: list[torch.Tensor] = []
        for ps in state.params:
            param = ps.ref()
            if param is None:
                continue
            grad = param.grad
            if ps.stale and grad is not None and ps.grad_ref is not None and ps.grad_ref() is grad:
                out.append(param)
            ps.stale = False
        return out

    def cleared_since_backward(self, state: OptimizerState) -> list[torch.Tensor] | None:
        """If every gradient backward() produced since the last step is gone (None or zeroed)
        now, the parameters concerned; otherwise None.

        A gradient modified in place since its last accumulation is read (one reduction) to
        tell clearing from clipping or unscaling; after a few non-zero reads the loop is known
        to clip, not clear, and no more values are read.
        """
        if not state.touched:
            return None
        cleared: list[torch.Tensor] = []
        changed: list[torch.Tensor] = []
        for ps in state.params:
            if not ps.touched:
                continue
            param = ps.ref()
            if param is None:
                continue
            grad = param.grad
            if grad is not None and ps.unchanged(grad):
                return None  # as backward() left it: not cleared
            cleared.append(param)
            if grad is not None:
                changed.append(grad)
        if not cleared:
            return None
        if changed:
            if state.probes_left <= 0:
                return None
            with torch.no_grad():
                if any(bool(g.any()) for g in changed):
                    state.probes_left -= 1
                    return None
        return cleared

    # -- hooks ------------------------------------------------------------------------------
    def _sync(self, state: OptimizerState, optimizer: torch.optim.Optimizer) -> None:
        known = {id(ps.ref()) for ps in state.params}
        for group in optimizer.param_groups:
            for param in group["params"]:
                if id(param) in known or not param.requires_grad:
                    continue
                ps = ParamState(param, state)
                ps.remember(param.grad)
                if param.grad is not None:
                    state.got_grad = True
                state.params.append(ps)
                self._params[id(param)] = ps
                hook = functools.partial(_accumulated, ps)
                self._handles.append(param.register_post_accumulate_grad_hook(hook))

    def close(self) -> None:
        """Remove every hook; the tracker is not used after this."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._params.clear()
        self._optimizers.clear()


def _accumulated(ps: ParamState, param: torch.Tensor) -> None:
    """Post-accumulate-grad hook: backward() just added into ``param.grad``."""
    grad = param.grad
    if grad is None:
        return
    # Same tensor, one version further: this accumulation landed on the values last seen.
    contiguous = (
        ps.grad_ref is not None and ps.grad_ref() is grad and grad._version == ps.version + 1
    )
    if ps.armed:  # the first accumulation since the last step
        ps.armed = False
        ps.stale = contiguous
        if contiguous:
            ps.owner.any_stale = True
    elif not contiguous:
        ps.stale = False  # cleared or replaced since the previous accumulation
    ps.remember(grad)
    ps.touched = True
    ps.owner.touched = True
    ps.owner.got_grad = True
