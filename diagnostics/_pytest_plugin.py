"""pytest plugin ``diagnostics``: a ``diagnose`` fixture and a ``--diagnose`` option for any run.

With ``--diagnose`` every test runs under diagnostics.watch(). A failing test shows the findings
of its run in its failure report (also under xdist, since report sections travel with the
report); a passing test fails only when its run made an error finding (with
``--diagnose-strict``, a warning too); nothing else of a test's outcome changes.

torch is imported only when a test is watched (``--diagnose`` or the ``diagnose`` fixture):
a plain pytest run of a project where the package is installed does not pay for it.
``-p no:diagnostics`` switches the plugin off.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from ._catalogue import Severity, UnknownCodeError, check_codes
from ._findings import Report

if TYPE_CHECKING:
    from ._watch import Watch

NAME = "diagnostics"  # the entry point's name: -p no:diagnostics
_PROPERTY = "diagnostics"
_INTERNAL = "diagnostics-internal"
_WATCH: pytest.StashKey[Watch] = pytest.StashKey()
_REPORTS = pytest.StashKey[Report]()
_OWN_REPORT = pytest.StashKey[bool]()  # the test reads its report through the fixture

_GATE = (
    "The test passed, but diagnostics found {what} in the code it ran. Fix the code; if the "
    "pattern is deliberate, {allow} silences it{strict}."
)


class DiagnosisFailed(Exception):
    """Under --diagnose, the test passed but its run made a finding that fails it."""


def pytest_plugin_registered(plugin: object, manager: pytest.PytestPluginManager) -> None:
    """One module, two names: ``diagnostics`` (the entry point) and its module name (``-p`` or
    ``pytest_plugins`` from a checkout). Registered under one, the other is blocked, so that
    pytest never registers the module twice; ``-p no:diagnostics`` wins over either."""
    if plugin is sys.modules[__name__]:
        if manager.is_blocked(NAME):
            manager.set_blocked(__name__)  # unregisters it
            return
        for name in (NAME, __name__):
            if manager.get_plugin(name) is None:
                manager.set_blocked(name)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("diagnostics", "training-loop diagnostics")
    group.addoption(
        "--diagnose",
        action="store_true",
        default=False,
        help="run every test under diagnostics.watch(): findings show in failure reports, "
        "and an error finding fails a test",
    )
    group.addoption(
        "--diagnose-strict",
        action="store_true",
        default=False,
        help="as --diagnose, and a warning finding fails a test too",
    )
    group.addoption(
        "--diagnose-allow",
        action="append",
        default=[],
        metavar="CODE",
        help="finding code to silence under --diagnose (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        check_codes(config.getoption("--diagnose-allow"))
    except UnknownCodeError as exc:
        raise pytest.UsageError(f"--diagnose-allow: {exc}") from None


def _watching(config: pytest.Config) -> bool:
    return bool(config.getoption("--diagnose") or config.getoption("--diagnose-strict"))


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _watching(config):
        return None  # torch stays unimported, and a plain run says nothing of us
    import torch

    device = f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"
    fails = "errors and warnings" if config.getoption("--diagnose-strict") else "errors"
    return (
        f"diagnostics: torch {torch.__version__}, device {device}, watching every test: on "
        f"(findings that fail a test: {fails})"
    )


@pytest.fixture
def diagnose(request: pytest.FixtureRequest) -> Generator[Report, None, None]:
    """A diagnostics.watch() around the test; yields its live Report.

    The test judges the report itself: under --diagnose its findings never fail it.
    """
    if not request.config.pluginmanager.is_registered(sys.modules[__name__]):
        raise pytest.UsageError(
            "The 'diagnose' fixture belongs to the diagnostics plugin, which -p no:diagnostics "
            "switched off for this run."
        )
    item = request.node
    item.stash[_OWN_REPORT] = True
    if _WATCH not in item.stash:
        _start(item, allow=(), guarded=False)
    yield item.stash[_WATCH].report
    _close(item, None)


def _start(item: pytest.Item, *, allow: Sequence[str], guarded: bool) -> None:
    from ._watch import watch

    w = watch(allow=allow)
    try:
        w.start()
    except Exception as problem:
        if not guarded:
            raise
        # --diagnose never fails a test for a fault of its own: the test runs unwatched
        report = item.stash[_REPORTS] = Report()
        report.internal_warnings.append(
            f"the watch could not start ({type(problem).__name__}: {problem}); "
            "this test ran unwatched."
        )
        return
    item.stash[_WATCH] = w


def _close(item: pytest.Item, exc: BaseException | None) -> Report | None:
    w = item.stash.get(_WATCH, None)
    if w is None:
        return None
    del item.stash[_WATCH]
    try:
        w.stop(exc)
    except Exception as problem:
        w.report.internal_warnings.append(
            f"the watch did not end cleanly ({type(problem).__name__}: {problem}); "
            "its findings may be incomplete."
        )
    return w.report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    config = item.config
    if _watching(config) and _WATCH not in item.stash:
        _start(item, allow=config.getoption("--diagnose-allow"), guarded=True)
    try:
        result = yield
    except BaseException as exc:
        _finish(item, exc)
        raise
    report = _finish(item, None)
    if report is not None and _watching(config) and not item.stash.get(_OWN_REPORT, False):
        strict = bool(config.getoption("--diagnose-strict"))
        if report.fails(strict=strict):
            raise DiagnosisFailed(_gate_message(report, strict=strict))
    return result


def _gate_message(report: Report, *, strict: bool) -> str:
    failing = [
        f
        for f in report.findings
        if f.severity is Severity.ERROR or (strict and f.severity is Severity.WARNING)
    ]
    codes = sorted({f.code for f in failing})
    what = f"{len(failing)} finding{'s' if len(failing) != 1 else ''} ({', '.join(codes)})"
    allow = " ".join(f"--diagnose-allow {code}" for code in codes)
    advice = any(f.severity is Severity.WARNING for f in failing)
    return _GATE.format(
        what=what,
        allow=allow,
        strict=" (a warning is advice: it fails a test only under --diagnose-strict)"
        if advice
        else "",
    )


def _finish(item: pytest.Item, exc: BaseException | None) -> Report | None:
    report = _close(item, exc)
    if report is not None:
        item.stash[_REPORTS] = report
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    report = item.stash.get(_REPORTS, None)
    if rep.when == "call" and report is not None:
        if report.findings:
            rep.user_properties.append((_PROPERTY, sorted(report.codes())))
        if report.internal_warnings:
            rep.user_properties.append((_INTERNAL, list(report.internal_warnings)))
        if call.excinfo is not None and call.excinfo.errisinstance(DiagnosisFailed):
            rep.longrepr = str(call.excinfo.value)  # the message alone: no traceback of ours
        if rep.failed and (report.findings or report.internal_warnings):
            from ._render import report_text

            rep.sections.append(("diagnostics", report_text(report)))
    return rep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = []
    for kind in ("passed", "failed"):
        for rep in terminalreporter.stats.get(kind, []):
            if rep.when != "call":
                continue
            for name, values in getattr(rep, "user_properties", ()):
                if name == _PROPERTY:
                    lines.append(f"{rep.nodeid}: {', '.join(values)}")
                elif name == _INTERNAL:
                    lines += [f"{rep.nodeid}: internal warning: {v}" for v in values]
    if lines:
        terminalreporter.section("diagnostics findings")
        for line in lines:
            terminalreporter.write_line(line)
