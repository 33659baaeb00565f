"""What ``kata validate`` needs from a run beyond the verdicts: the exceptions the tests raised.

A pytest plugin loaded only by the course check (``-p kata.running.probe --kata-probe=PATH``). For
every failed kata test it writes down the exception's type and message and whether it was
raised in one of the kata's own files, so that a "fault" that is only a typo (a ``NameError``
in ``train.py``) can be told apart from a training bug.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from kata.atomic import write_atomic
from kata.course.loader import KataLoadError
from kata.course.meta import kata_dir_of

_RECORDS = pytest.StashKey[dict[str, dict[str, dict[str, Any]]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("kata").addoption(
        "--kata-probe",
        metavar="PATH",
        default=None,
        help="write the exceptions of failed kata tests to PATH as JSON (for kata validate)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RECORDS] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if call.when == "call" and report.failed and call.excinfo is not None:
        kata_dir = kata_dir_of(item.path)
        if kata_dir is not None:
            kata_id = f"{kata_dir.parent.name}/{kata_dir.name}"
            test = item.nodeid.split("::", 1)[-1]
            record = _record(call.excinfo.value, call.excinfo.tb, kata_dir)
            item.config.stash[_RECORDS].setdefault(kata_id, {})[test] = record
    return report


def _record(exc: BaseException, tb: Any, kata_dir: Path) -> dict[str, Any]:
    """The exception as the kata's file raised it (a load error is unwrapped)."""
    context = exc.__context__
    if isinstance(exc, KataLoadError) and context is not None:
        exc, tb = context, context.__traceback__
    files = []
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename:
        files.append(exc.filename)  # where the bad line is, not where it was compiled
    ours = [f for f in files if Path(f).parent.name == kata_dir.name]
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "raised_in_kata_file": bool(files and files[-1] in ours),  # the innermost frame
        "through_kata_file": bool(ours),
        "file": ours[-1] if ours else None,
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("kata_probe")
    if path:
        write_atomic(Path(path), json.dumps(session.config.stash[_RECORDS], indent=1))
