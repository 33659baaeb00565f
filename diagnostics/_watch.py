"""A watch: one run of the families of checks over the code inside it, and its report.

:class:`Watch` composes the pieces: it builds its checks (every family unless told which),
hands their handlers to the hook engine while it is active, and collects what they emit in
its :class:`~diagnostics.Report`. The engine below it knows no family of checks; the checks
know a watch only through ``WatchSide`` (diagnostics/_checks/_base.py).
"""

from __future__ import annotations

import collections
import difflib
import threading
import traceback
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Literal

import torch
from torch import nn
from torch.optim import lr_scheduler as sched_mod

from ._catalogue import check_codes
from ._checks import ALL_CHECKS, Check
from ._checks._base import CALL_MEMORY, CallRecord
from ._checks._clock import Clock
from ._engine import DISPATCHER
from ._findings import Finding, Location, Report, as_pairs
from ._location import user_location

__all__ = ["Watch", "abandon_inherited_watches", "watch"]

CheckSpec = type[Check] | str  # a family of checks, or its name in the catalogue


class Watch:
    """Observe the training code that runs while the watch is active, and collect findings.

    ``Watch(model, optimizer)`` keeps only findings about those objects; ``checks`` selects the
    families of checks to run (their classes, or their names in the catalogue, e.g.
    ``checks=["gradients", "modes"]``; default: every family); ``allow`` silences finding codes
    for a deliberate pattern. Use it as a context manager (``with Watch() as report:``), or
    call :meth:`start` and :meth:`stop` where a block does not fit (a notebook cell, a test
    framework's setup and teardown). :func:`diagnostics.watch` is the short form.
    """

    def __init__(
        self,
        targets: Iterable[Any] = (),
        *,
        checks: CheckSpec | Iterable[CheckSpec] | None = None,
        allow: Iterable[str] = (),
    ) -> None:
        self.report = Report(allow=frozenset(check_codes(tuple(allow))))
        self._targets = tuple(targets)
        _validate_targets(self._targets)
        self._families = _checks_for_run() if checks is None else _resolve_checks(checks)
        self._checks: list[Check] = []
        self.clock = Clock()
        self.module_calls: collections.deque[CallRecord] = collections.deque(maxlen=CALL_MEMORY)
        self._active = False
        self._broken: set[type] = set()
        self._thread = threading.get_ident()

    # -- the public lifecycle --------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Is the watch observing now (between :meth:`start` and :meth:`stop`)?"""
        return self._active

    @property
    def checks(self) -> tuple[type[Check], ...]:
        """The families of checks this watch runs."""
        return self._families

    def start(self) -> Report:
        """Start observing the calling thread; returns the live report.

        A stopped watch may start again: its report keeps what it found before.
        """
        if self._active:
            raise RuntimeError("This watch is already active; start a new diagnostics.watch().")
        self.clock = Clock()
        self.module_calls.clear()
        self._checks = [cls(self) for cls in self._families]
        self._broken = set()
        self._thread = threading.get_ident()
        self._active = True
        DISPATCHER.add(self)
        return self.report

    def stop(self, exc: BaseException | None = None) -> Report:
        """Stop observing: the checks make their end-of-run analysis; returns the report.

        ``exc`` is the exception the watched code raised, if any: the checks explain it (a
        device or shape crash becomes a finding). Stopping a watch that is not active does
        nothing, so that ``stop()`` is safe in a ``finally``.
        """
        if not self._active:
            return self.report
        try:
            if exc is not None and not isinstance(exc, (KeyboardInterrupt, SystemExit)):
                for check in self._checks:
                    self._run_guarded(check, "on_exception", exc)
            for check in self._checks:
                self._run_guarded(check, "finish")
        finally:
            DISPATCHER.remove(self)
            for check in self._checks:
                if type(check) not in self._broken:
                    self._close(check)
            self._active = False
            self._checks = []
            self.module_calls.clear()
        return self.report

    def __enter__(self) -> Report:
        return self.start()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        self.stop(exc)
        return False

    # -- for the engine --------------------------------------------------------------------------
    @property
    def thread(self) -> int:
        """The thread whose events the watch sees: the one that started it."""
        return self._thread

    def handlers(self, event: str) -> tuple[Callable[..., Any], ...]:
        """The bound handlers of the live checks (not switched off) that listen to ``event``."""
        return tuple(
            getattr(check, event)
            for check in self._checks
            if check.handles(event) and type(check) not in self._broken
        )

    def call_log(self) -> collections.deque[CallRecord] | None:
        """Where the engine logs module calls: ``module_calls`` while a live check asks for
        them, else None."""
        wanted = any(
            check.logs_module_calls and type(check) not in self._broken for check in self._checks
        )
        return self.module_calls if wanted else None

    def abandon(self) -> None:
        """End a copy of this watch that a forked process inherited, without a report: its
        checks' hooks are removed, nothing is analysed (the report is the parent's)."""
        DISPATCHER.remove(self)
        for check in self._checks:
            try:
                check.close()
            except Exception:  # the parent's copy reports its own checks' faults
                continue
        self._active = False
        self._checks = []

    # -- for checks ------------------------------------------------------------------------------
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
        self.report.add(finding, key if key is not None else str(location))

    def update(self, code: str, *, key: Any, evidence: Any = None, series: Any = None) -> None:
        """Refresh an already reported finding's evidence or series (e.g. at finish)."""
        changes: dict[str, Any] = {}
        if evidence is not None:
            changes["evidence"] = as_pairs(evidence)
        if series is not None:
            changes["series"] = tuple(
                (n, tuple(float(v) for v in vals)) for n, vals in series.items()
            )
        self.report.refresh(code, key, **changes)

    def module_stack(self) -> list[nn.Module]:
        """The modules whose forward is running in the calling thread, outermost first."""
        return DISPATCHER.module_stack()

    def resubscribe(self) -> None:
        """A check starts or stops listening to some events: route them anew."""
        if self._active:
            DISPATCHER.rebuild()

    def check_failed(self, check: Check, event: str, exc: Exception) -> None:
        """Switch ``check`` off for the rest of this watch, its hooks removed, and say so."""
        if type(check) in self._broken:
            return
        self._broken.add(type(check))
        DISPATCHER.rebuild()
        where = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.report.internal_warnings.append(
            f"{type(check).__name__}.{event} failed and was switched off for this run: {where}"
        )
        self._close(check)

    # -- internals -------------------------------------------------------------------------------
    def _run_guarded(self, check: Check, event: str, *args: Any) -> None:
        if type(check) in self._broken:
            return
        try:
            getattr(check, event)(*args)
        except Exception as exc:  # a check must never break the user's run
            self.check_failed(check, event, exc)

    def _close(self, check: Check) -> None:
        try:
            check.close()
        except Exception as exc:  # reported, never raised into the user's run
            where = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.report.internal_warnings.append(f"{type(check).__name__}.close failed: {where}")

    def _in_scope(self, subject: Any) -> bool:
        if not self._targets or subject is None:
            return True
        return any(_concerns(target, subject) for target in self._targets)


def watch(
    *targets: Any,
    checks: CheckSpec | Iterable[CheckSpec] | None = None,
    allow: Iterable[str] = (),
) -> Watch:
    """Diagnose the training code that runs inside the ``with`` block.

    ``with diagnostics.watch() as report:`` observes everything; ``watch(model, optimizer)``
    keeps only findings about those objects. ``checks`` selects families of checks (default:
    every family); ``allow`` silences finding codes for a deliberate pattern. The code inside
    runs unchanged: the watch only observes.
    """
    return Watch(targets, checks=checks, allow=allow)


def abandon_inherited_watches() -> None:
    """In a forked child: end the copies of the parent's active watches, so that events go
    to the child's own watch alone (their reports are the parent's, never printed here)."""
    for inherited in DISPATCHER.remove_all():
        if isinstance(inherited, Watch):
            inherited.abandon()


def _checks_for_run() -> tuple[type[Check], ...]:
    """The families a watch runs when none are named: every family."""
    return ALL_CHECKS


def _resolve_checks(checks: CheckSpec | Iterable[CheckSpec]) -> tuple[type[Check], ...]:
    """The families named by ``checks``: classes as they are, names looked up."""
    by_name = {cls.family: cls for cls in ALL_CHECKS}
    items = [checks] if isinstance(checks, (str, type)) else list(checks)
    out: list[type[Check]] = []
    for item in items:
        if isinstance(item, str):
            cls = by_name.get(item)
            if cls is None:
                close = difflib.get_close_matches(item, by_name, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"diagnostics.watch(checks=...): no family of checks is named {item!r}."
                    f"{hint} The families: {', '.join(sorted(by_name))}."
                )
        elif isinstance(item, type) and issubclass(item, Check):
            cls = item
        else:
            raise TypeError(
                "diagnostics.watch(checks=...) takes families of checks: their names (e.g. "
                f"'gradients') or subclasses of diagnostics.Check, got {item!r}."
            )
        if cls not in out:
            out.append(cls)
    return tuple(out)


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
    if isinstance(subject, sched_mod.LRScheduler):
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
