"""pytest plugin: a ``diagnose`` fixture and a ``--diagnose`` option for any test run.

A failing test shows the findings of its run in its failure report (also under xdist,
since report sections travel with the report).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import torch

from ._engine import Watch, watch
from ._findings import Report
from ._render import report_text

_WATCH = pytest.StashKey[Watch]()
_PROPERTY = "diagnostics"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("diagnostics", "training-loop diagnostics")
    group.addoption(
        "--diagnose",
        action="store_true",
        default=False,
        help="run every test under diagnostics.watch() and show findings of failures",
    )
    group.addoption(
        "--diagnose-allow",
        action="append",
        default=[],
        metavar="CODE",
        help="finding code to silence under --diagnose (repeatable)",
    )


def pytest_report_header(config: pytest.Config) -> str:
    device = f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"
    on = "on" if config.getoption("--diagnose") else "off (use --diagnose)"
    return f"diagnostics: torch {torch.__version__}, device {device}, watching every test: {on}"


@pytest.fixture
def diagnose(request: pytest.FixtureRequest) -> Generator[Report, None, None]:
    """A diagnostics.watch() around the test; yields its live Report."""
    w = request.node.stash.get(_WATCH, None)
    if w is None:
        w = watch()
        request.node.stash[_WATCH] = w
        w.__enter__()
    yield w.report
    _close(request.node, None)


def _close(item: pytest.Item, exc: BaseException | None) -> Report | None:
    w = item.stash.get(_WATCH, None)
    if w is None:
        return None
    del item.stash[_WATCH]
    if w._active:
        w.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
    return w.report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    if item.config.getoption("--diagnose") and _WATCH not in item.stash:
        w = watch(allow=item.config.getoption("--diagnose-allow"))
        item.stash[_WATCH] = w
        w.__enter__()
    try:
        result = yield
    except BaseException as exc:
        _finish(item, exc)
        raise
    _finish(item, None)
    return result


_REPORTS = pytest.StashKey[Report]()


def _finish(item: pytest.Item, exc: BaseException | None) -> None:
    report = _close(item, exc)
    if report is not None:
        item.stash[_REPORTS] = report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    report = item.stash.get(_REPORTS, None)
    if rep.when == "call" and report is not None:
        if report.findings:
            rep.user_properties.append((_PROPERTY, sorted(report.codes())))
        if rep.failed and (report.findings or report.internal_warnings):
            rep.sections.append(("diagnostics", report_text(report)))
    return rep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = []
    for kind in ("passed", "failed"):
        for rep in terminalreporter.stats.get(kind, []):
            for name, codes in getattr(rep, "user_properties", ()):
                if name == _PROPERTY and rep.when == "call":
                    lines.append(f"{rep.nodeid}: {', '.join(codes)}")
    if lines:
        terminalreporter.section("diagnostics findings")
        for line in lines:
            terminalreporter.write_line(line)
