"""The base class of a family of checks, and the events the engine sends it.

A check overrides only the ``on_*`` methods it needs: the engine sends each event to the
checks that override it, so an event nobody listens to costs nothing. A check that has
nothing to follow for now names the events in ``quiet`` and calls ``listen`` once it has
(``mute`` gives them up again): each change reroutes the events, so it is for rare moments
(a scheduler's first step), not for every step. Events arrive on the
user's hot path (every forward, backward and step): do the least work there, keep no copies
of tensors, hold modules and optimizers weakly, and defer analysis to step or finish time.

Events (all optional):
    on_module_forward(module, args, output)        every nn.Module call with gradients
                                                   enabled (one that can lead to a
                                                   backward), after forward (output None
                                                   when forward raised)
    on_root_forward_pre(module, args)              an outermost nn.Module call, before forward
    on_root_forward(module, args, output)          an outermost nn.Module call, after forward
                                                   (the modules running meanwhile, root first:
                                                   ``self.watch.module_stack()``)
    on_backward(tensors)                           torch.autograd.backward / Tensor.backward,
                                                   before it runs (tensors: tuple of Tensor)
    on_step_pre(optimizer) / on_step_post(optimizer)   every optimizer.step()
    on_scheduler_step_pre(scheduler) / on_scheduler_step_post(scheduler)
                                                   every LR scheduler .step() (not the one
                                                   a scheduler makes while it is built)
    on_loss(name, input, target, kwargs)           torch.nn.functional losses (and the nn.*Loss
                                                   modules that call them), before they run
    on_dropout(name, input, p, training, output)   F.dropout and its variants, after they run
    on_batch_norm(input, running_mean, training, momentum, output)   F.batch_norm, after
    on_state_dict(module, state_dict)              Module.state_dict() returned
    on_load_state_dict(module, state_dict)         Module.load_state_dict() about to run
    on_save(obj)                                   torch.save() about to run
    on_clip(name, params, threshold)               torch.nn.utils.clip_grad_norm_ /
                                                   clip_grad_value_ about to run (params:
                                                   list of the tensors it was given;
                                                   threshold: max_norm / clip_value)
    on_grad_scale(scaler)                          GradScaler.scale() called
    on_unscale(scaler, optimizer)                  GradScaler.unscale_() about to run
    on_loader_iter(loader)                         a DataLoader is iterated (a new pass:
                                                   an epoch when it is the training data)
    on_exception(exc)                              the watched code raised exc (explain it)
    finish()                                       the watch ends (end-of-run analysis)

Two services of the engine spare a check a handler on the hottest events:

* ``self.watch.clock`` (``_clock.Clock``): backward() calls and optimizer steps so far, and
  each optimizer's steps, for a check that only needs to know where training stands when
  something rare happens.
* ``self.watch.module_calls``: while a check of the watch sets ``logs_module_calls``, the
  engine logs every module call made with gradients enabled, newest last (at most
  ``CALL_MEMORY``), as a tuple ``(module, input, output, graph, whole)`` of weak references
  and flags: ``input`` is the call's first argument when that is a tensor that needs no
  gradient (the batch), else None; ``output`` its output (the first tensor of a tuple or
  list), None when it has none or forward raised; ``graph`` whether that output recorded an
  autograd graph; ``whole`` is True for an outermost call made without gradients, which
  stands for the whole forward (logged once for a run of them; the calls inside it are not).

A check that registers hooks of its own (on a tensor, a parameter, a module) removes them in
``close()``: the watch calls it once it has ended, and at once when the check fails and is
switched off, so that no hook of a check outlives it. An error inside such a hook is not the
engine's to catch: the hook catches it and calls ``self.failed(where, exc)``.

The engine skips the events of meta-device and fake tensors where it can and ignores a
check's error on them, but a check that reads values in its own hooks must skip such tensors
itself (``unreal``).
"""

from __future__ import annotations

import collections
import weakref
from typing import Any, ClassVar, Protocol

import torch

from ._clock import Clock

EVENTS = (
    "on_module_forward",
    "on_root_forward_pre",
    "on_root_forward",
    "on_backward",
    "on_step_pre",
    "on_step_post",
    "on_scheduler_step_pre",
    "on_scheduler_step_post",
    "on_loss",
    "on_dropout",
    "on_batch_norm",
    "on_state_dict",
    "on_load_state_dict",
    "on_save",
    "on_clip",
    "on_grad_scale",
    "on_unscale",
    "on_loader_iter",
    "on_exception",
    "finish",
)


CALL_MEMORY = 2048  # module calls the engine logs for a watch, newest last
CallRecord = tuple[Any, Any, Any, bool, bool]  # (module, input, output, graph, whole)


class WatchSide(Protocol):
    """What a check sees of the watch it reports to (``diagnostics.Watch`` is one).

    Defined here, below the checks, so that no check imports the watch above it.
    """

    @property
    def report(self) -> Any: ...

    def emit(
        self,
        code: str,
        *,
        key: Any = None,
        message: str,
        fix: str,
        location: Any = None,
        evidence: Any = None,
        series: Any = None,
        subject: Any = None,
        count: int = 1,
    ) -> None: ...
    def update(self, code: str, *, key: Any, evidence: Any = None, series: Any = None) -> None: ...
    def module_stack(self) -> list[torch.nn.Module]: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def module_calls(self) -> collections.deque[CallRecord]: ...
    def check_failed(self, check: Check, event: str, exc: Exception) -> None: ...
    def resubscribe(self) -> None: ...


class Check:
    """One family of checks, living for the length of one watch.

    ``family`` names the family as the catalogue does (``diagnostics.CATALOGUE[code].family``):
    ``diagnostics.Watch(checks=["gradients"])`` selects families by it.
    """

    family: ClassVar[str] = ""
    logs_module_calls: ClassVar[bool] = False  # the engine fills ``watch.module_calls``
    # Does the check follow outermost calls made without gradients (on_root_forward_pre,
    # on_root_forward)? An evaluation is one; a check about training alone says False.
    roots_without_grad: ClassVar[bool] = True
    # Events the check handles but does not want until it calls ``listen`` (e.g. a family
    # that has nothing to follow before a scheduler or a DDP model shows up).
    quiet: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, watch: WatchSide) -> None:
        self.watch = watch
        self._muted = set(self.quiet)

    def emit(self, code: str, *, key: Any = None, **fields: Any) -> None:
        """Report a finding; see ``Watch.emit``."""
        self.watch.emit(code, key=key, **fields)

    def failed(self, where: str, exc: Exception) -> None:
        """This check's own hook failed: switch the check off for this watch, and say so."""
        self.watch.check_failed(self, where, exc)

    def handles(self, event: str) -> bool:
        """Does the check want ``event`` now?"""
        if event in self._muted:
            return False
        return getattr(type(self), event) is not getattr(Check, event, None)

    def listen(self, *events: str) -> None:
        """Start receiving ``events`` (from the next one on)."""
        if self._muted.intersection(events):
            self._muted.difference_update(events)
            self.watch.resubscribe()

    def mute(self, *events: str) -> None:
        """Stop receiving ``events`` until ``listen``: nothing to follow for now."""
        if not self._muted.issuperset(events):
            self._muted.update(events)
            self.watch.resubscribe()

    # Default no-op handlers, so that ``handles`` can tell overridden ones apart.
    def on_module_forward(self, module: Any, args: Any, output: Any) -> None: ...
    def on_root_forward_pre(self, module: Any, args: Any) -> None: ...
    def on_root_forward(self, module: Any, args: Any, output: Any) -> None: ...
    def on_backward(self, tensors: Any) -> None: ...
    def on_step_pre(self, optimizer: Any) -> None: ...
    def on_step_post(self, optimizer: Any) -> None: ...
    def on_scheduler_step_pre(self, scheduler: Any) -> None: ...
    def on_scheduler_step_post(self, scheduler: Any) -> None: ...
    def on_loss(self, name: str, input: Any, target: Any, kwargs: dict) -> None: ...
    def on_dropout(self, name: str, input: Any, p: float, training: bool, output: Any) -> None: ...
    def on_batch_norm(
        self, input: Any, running_mean: Any, training: bool, momentum: Any, output: Any
    ) -> None: ...
    def on_state_dict(self, module: Any, state_dict: Any) -> None: ...
    def on_load_state_dict(self, module: Any, state_dict: Any) -> None: ...
    def on_save(self, obj: Any) -> None: ...
    def on_clip(self, name: str, params: list, threshold: Any) -> None: ...
    def on_grad_scale(self, scaler: Any) -> None: ...
    def on_unscale(self, scaler: Any, optimizer: Any) -> None: ...
    def on_loader_iter(self, loader: Any) -> None: ...
    def on_exception(self, exc: BaseException) -> None: ...
    def finish(self) -> None: ...

    def close(self) -> None:
        """Remove every hook this check registered itself; nothing is reported after this."""


_Tensor, _Parameter = torch.Tensor, torch.nn.Parameter


def unreal(t: Any) -> bool:
    """Is ``t`` a tensor without values to read: on the meta device, or a fake tensor?"""
    if t.is_meta:
        return True
    if type(t) is _Tensor or type(t) is _Parameter:
        return False
    from torch._subclasses.fake_tensor import is_fake

    return bool(is_fake(t))


# The latest loss read: (a weak reference to it, its version, its value).
_last_read: tuple[Any, int, float] = (None, -1, 0.0)


def loss_value(t: torch.Tensor) -> float:
    """The value of a one-element loss (with a graph) about to be run back, as a float.

    ``item()`` waits for an accelerator, as logging the loss does: it is read once per
    backward() however many checks ask for it.
    """
    global _last_read
    ref, version, value = _last_read
    if ref is not None and ref() is t and t._version == version:
        return value
    value = float(t.item())
    _last_read = (weakref.ref(t), t._version, value)
    return value
