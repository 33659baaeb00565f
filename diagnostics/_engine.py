"""The hook engine: one set of global hooks and patches, shared by every active watch.

The hooks are installed when the first watch starts and removed when the last one ends, so
nothing is patched outside a watch. Each watch owns its own check instances and report;
events fan out to the handlers of the active watches, prebuilt per event so that an event
no check listens to costs one empty loop.
"""

from __future__ import annotations

import functools
import threading
import traceback
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as _module_mod
from torch.optim import lr_scheduler as _sched_mod
from torch.optim import optimizer as _optim_mod

from ._catalogue import check_codes
from ._checks import ALL_CHECKS, Check
from ._checks._base import EVENTS
from ._findings import Finding, Location, Report, as_pairs
from ._location import user_location

_LOSSES = (
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "soft_margin_loss",
)
_DROPOUTS = (
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
)


class _Dispatcher:
    """Owns the global hooks; routes each event to the active watches' handlers."""

    def __init__(self) -> None:
        self.watches: list[Watch] = []
        self.handlers: dict[str, tuple[Callable[..., Any], ...]] = {e: () for e in EVENTS}
        self._undo: list[Callable[[], None]] = []
        self._lock = threading.RLock()
        self._sched_depth = 0
        self._fn_depth = 0

    # -- lifecycle -------------------------------------------------------------------------
    def add(self, watch: Watch) -> None:
        with self._lock:
            if not self.watches:
                self._install()
            self.watches.append(watch)
            self._rebuild()

    def remove(self, watch: Watch) -> None:
        with self._lock:
            if watch in self.watches:
                self.watches.remove(watch)
            self._rebuild()
            if not self.watches:
                self._uninstall()

    def _rebuild(self) -> None:
        self.handlers = {
            event: tuple(
                getattr(check, event)
                for w in self.watches
                for check in w._checks
                if check.handles(event) and type(check) not in w._broken
            )
            for event in EVENTS
        }

    def _emit(self, event: str, *args: Any) -> None:
        for handler in self.handlers[event]:
            try:
                handler(*args)
            except Exception as exc:  # a check must never break the user's run
                self._failed(handler, event, exc)

    def _failed(self, handler: Any, event: str, exc: Exception) -> None:
        """Switch the failing check off for its watch, and say so in that watch's report."""
        check: Check = handler.__self__
        with self._lock:
            check.watch._internal_error(check, event, exc)
            self._rebuild()

    # -- installation ------------------------------------------------------------------------
    def _install(self) -> None:
        emit = self._emit

        def fwd_pre(module: nn.Module, args: Any) -> None:
            if self.handlers["on_module_forward_pre"]:
                emit("on_module_forward_pre", module, args)

        def fwd_post(module: nn.Module, args: Any, output: Any) -> None:
            if self.handlers["on_module_forward"]:
                emit("on_module_forward", module, args, output)

        def step_pre(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            emit("on_step_pre", opt)

        def step_post(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            emit("on_step_post", opt)

        handles = [
            _module_mod.register_module_forward_pre_hook(fwd_pre),
            # always_call: the post hook runs even when forward raises, so a module stack
            # kept by a check stays balanced when the user catches the error.
            _module_mod.register_module_forward_hook(fwd_post, always_call=True),
            _optim_mod.register_optimizer_step_pre_hook(step_pre),
            _optim_mod.register_optimizer_step_post_hook(step_post),
        ]
        self._undo.extend(h.remove for h in handles)
        self._patch(torch.autograd, "backward", self._wrap_backward)
        for name in _LOSSES:
            self._patch(F, name, functools.partial(self._wrap_loss, name))
        for name in _DROPOUTS:
            self._patch(F, name, functools.partial(self._wrap_dropout, name))
        self._patch(F, "batch_norm", self._wrap_batch_norm)
        self._patch(nn.Module, "state_dict", self._wrap_state_dict)
        self._patch(nn.Module, "load_state_dict", self._wrap_load_state_dict)
        self._patch(torch, "save", self._wrap_save)
        for cls in _scheduler_classes():
            self._patch(cls, "step", self._wrap_scheduler_step)

    def _uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        wrapper = make(original)
        functools.update_wrapper(wrapper, original)
        wrapper.__wrapped_by_diagnostics__ = True  # type: ignore[attr-defined]
        setattr(owner, name, wrapper)
        self._undo.append(lambda: setattr(owner, name, original))

    # -- wrappers (each calls the original exactly once, with the same arguments) ------------
    def _wrap_backward(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            if not isinstance(tensors, torch.Tensor):
                tensors = tuple(tensors)  # once: a generator would be used up by the event
            if self.handlers["on_backward"]:
                seq = (tensors,) if isinstance(tensors, torch.Tensor) else tensors
                self._emit("on_backward", seq)
            return original(tensors, *args, **kwargs)

        return backward

    # A torch function mode (e.g. the simulated accelerator's) re-enters these functions through
    # handle_torch_function, which looks the patched name up again: count only the outer call.
    def _wrap_loss(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def loss(input: Any, target: Any = None, *args: Any, **kwargs: Any) -> Any:
            if self._fn_depth == 0 and self.handlers["on_loss"]:
                self._emit("on_loss", name, input, target, kwargs)
            self._fn_depth += 1
            try:
                if target is None and not args:
                    return original(input, **kwargs)
                return original(input, target, *args, **kwargs)
            finally:
                self._fn_depth -= 1

        return loss

    def _wrap_dropout(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        # alpha_dropout's training defaults to False, dropout's to True: read the original's.
        p_default, training_default = (original.__defaults__ or (0.5, True))[:2]

        def dropout(input: Any, *args: Any, **kwargs: Any) -> Any:
            outer = self._fn_depth == 0
            self._fn_depth += 1
            try:
                output = original(input, *args, **kwargs)
            finally:
                self._fn_depth -= 1
            if outer and self.handlers["on_dropout"]:
                p = args[0] if args else kwargs.get("p", p_default)
                training = args[1] if len(args) > 1 else kwargs.get("training", training_default)
                self._emit("on_dropout", name, input, p, training, output)
            return output

        return dropout

    def _wrap_batch_norm(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def batch_norm(
            input: Any,
            running_mean: Any,
            running_var: Any,
            weight: Any = None,
            bias: Any = None,
            training: bool = False,
            momentum: Any = 0.1,
            eps: float = 1e-5,
        ) -> Any:
            outer = self._fn_depth == 0
            self._fn_depth += 1
            try:
                output = original(
                    input, running_mean, running_var, weight, bias, training, momentum, eps
                )
            finally:
                self._fn_depth -= 1
            if outer and self.handlers["on_batch_norm"]:
                self._emit("on_batch_norm", input, running_mean, training, momentum, output)
            return output

        return batch_norm

    def _wrap_state_dict(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def state_dict(module: nn.Module, *args: Any, **kwargs: Any) -> Any:
            result = original(module, *args, **kwargs)
            # Only the outermost call: state_dict() recurses through submodules.
            if self.handlers["on_state_dict"] and not args and not kwargs.get("prefix"):
                self._emit("on_state_dict", module, result)
            return result

        return state_dict

    def _wrap_load_state_dict(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def load_state_dict(module: nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
            if self.handlers["on_load_state_dict"]:
                self._emit("on_load_state_dict", module, state_dict)
            return original(module, state_dict, *args, **kwargs)

        return load_state_dict

    def _wrap_save(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def save(obj: Any, *args: Any, **kwargs: Any) -> Any:
            if self.handlers["on_save"]:
                self._emit("on_save", obj)
            return original(obj, *args, **kwargs)

        return save

    def _wrap_scheduler_step(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def step(scheduler: Any, *args: Any, **kwargs: Any) -> Any:
            # Skip the step a scheduler makes while it is built, and the inner steps of
            # SequentialLR / ChainedScheduler: the user called neither.
            initial = getattr(scheduler, "_is_initial", getattr(scheduler, "_step_count", 1) == 0)
            outer = self._sched_depth == 0 and not initial
            self._sched_depth += 1
            try:
                if outer:
                    self._emit("on_scheduler_step_pre", scheduler)
                result = original(scheduler, *args, **kwargs)
            finally:
                self._sched_depth -= 1
            if outer:
                self._emit("on_scheduler_step_post", scheduler)
            return result

        return step


def _scheduler_classes() -> list[type]:
    """LRScheduler and every class in torch.optim.lr_scheduler that defines its own step()."""
    classes: set[type] = {_sched_mod.LRScheduler}
    for obj in vars(_sched_mod).values():
        if isinstance(obj, type) and "step" in obj.__dict__:
            classes.add(obj)
    return sorted(classes, key=lambda c: c.__name__)


_DISPATCHER = _Dispatcher()


class Watch:
    """Observe everything that runs inside ``with watch():`` and collect findings.

    Use through :func:`diagnostics.watch`.
    """

    def __init__(self, targets: Iterable[Any] = (), *, allow: Iterable[str] = ()) -> None:
        self.report = Report(allow=frozenset(check_codes(tuple(allow))))
        self._targets = tuple(targets)
        _validate_targets(self._targets)
        self._checks: list[Check] = []
        self._active = False
        self._broken: set[type] = set()

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> Report:
        if self._active:
            raise RuntimeError("This watch is already active; start a new diagnostics.watch().")
        self._checks = [cls(self) for cls in _checks_for_run()]
        self._active = True
        _DISPATCHER.add(self)
        return self.report

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        try:
            if exc is not None and not isinstance(exc, (KeyboardInterrupt, SystemExit)):
                for check in self._checks:
                    self._run_guarded(check, "on_exception", exc)
            for check in self._checks:
                self._run_guarded(check, "finish")
        finally:
            _DISPATCHER.remove(self)
            self._active = False
            self._checks = []
        return False

    # -- for checks ---------------------------------------------------------------------------
    def emit(
        self,
        code: str,
        *,
        key: Any = None,
        message: str,
        fix: str,
        location: Location | None = None,
        evidence: Any = None,
        series: Any = None,
        subject: Any = None,
        count: int = 1,
    ) -> None:
        """Add a finding; repeats of the same (code, key) only raise its count.

        ``key`` names the fault's identity (default: its location); ``subject`` is the module,
        optimizer, parameter or scheduler concerned, used by watches scoped to targets.
        """
        if code in self.report.allow or not self._in_scope(subject):
            return
        if location is None:
            location = user_location(skip=2)
        finding = Finding(
            code=code,
            message=message,
            fix=fix,
            location=location,
            evidence=as_pairs(evidence),
            series=tuple((n, tuple(float(v) for v in vals)) for n, vals in (series or {}).items()),
            count=count,
        )
        self.report._add(finding, key if key is not None else str(location))

    def update(self, code: str, *, key: Any, evidence: Any = None, series: Any = None) -> None:
        """Refresh an already reported finding's evidence or series (e.g. at finish)."""
        changes: dict[str, Any] = {}
        if evidence is not None:
            changes["evidence"] = as_pairs(evidence)
        if series is not None:
            changes["series"] = tuple(
                (n, tuple(float(v) for v in vals)) for n, vals in series.items()
            )
        self.report._update(code, key, **changes)

    # -- internals -----------------------------------------------------------------------------
    def _run_guarded(self, check: Check, event: str, *args: Any) -> None:
        if type(check) in self._broken:
            return
        try:
            getattr(check, event)(*args)
        except Exception as exc:  # a check must never break the user's run
            self._internal_error(check, event, exc)

    def _internal_error(self, check: Check, event: str, exc: Exception) -> None:
        self._broken.add(type(check))
        where = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.report.internal_warnings.append(
            f"{type(check).__name__}.{event} failed and was switched off for this run: {where}"
        )

    def _in_scope(self, subject: Any) -> bool:
        if not self._targets or subject is None:
            return True
        return any(_concerns(target, subject) for target in self._targets)


def _checks_for_run() -> tuple[type[Check], ...]:
    return ALL_CHECKS


def _validate_targets(targets: tuple[Any, ...]) -> None:
    for t in targets:
        if not isinstance(t, (nn.Module, torch.optim.Optimizer)):
            raise TypeError(
                f"diagnostics.watch() takes models (nn.Module) and optimizers to scope the watch "
                f"to, got {type(t).__name__}. Pass options by keyword, e.g. allow=('code',)."
            )


def _concerns(target: Any, subject: Any) -> bool:
    """Does a finding about ``subject`` concern the watched ``target``?"""
    if isinstance(subject, weakref.ref):
        subject = subject()
        if subject is None:
            return False
    if subject is target:
        return True
    if isinstance(subject, _sched_mod.LRScheduler):
        subject = subject.optimizer
    if isinstance(target, nn.Module):
        if isinstance(subject, nn.Module):
            return any(m is subject for m in target.modules())
        params = {id(p) for p in target.parameters()}
        if isinstance(subject, torch.Tensor):
            return id(subject) in params
        if isinstance(subject, torch.optim.Optimizer):
            return any(id(p) in params for g in subject.param_groups for p in g["params"])
    if isinstance(target, torch.optim.Optimizer):
        params = {id(p) for g in target.param_groups for p in g["params"]}
        if isinstance(subject, torch.Tensor):
            return id(subject) in params
        if isinstance(subject, nn.Module):
            return any(id(p) in params for p in subject.parameters())
        if isinstance(subject, torch.optim.Optimizer):
            return subject is target
    return False


def watch(*targets: Any, allow: Iterable[str] = ()) -> Watch:
    """Diagnose the training code that runs inside the ``with`` block.

    ``with diagnostics.watch() as report:`` observes everything; ``watch(model, optimizer)``
    keeps only findings about those objects. ``allow`` silences finding codes for a
    deliberate pattern. The code inside runs unchanged: the watch only observes.
    """
    return Watch(targets, allow=allow)
