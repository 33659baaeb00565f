"""Helpers the test modules share: the one finding a test expects, where it points, a crash
watched and bare, a copy of a fake course, the ``kata`` command run in this process.

A finding's location is checked against the test module that calls the helper: a test marks a
line of its own file with a trailing comment ``# <marker>`` (see :mod:`tests._markers`) and
asks that the finding point there, so no assertion hard-codes a file name or a line number.
The shared fixtures (``course``, ``drill``) live in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from types import FrameType

import pytest

import diagnostics
from tests._markers import line_of

_HERE = os.path.normcase(__file__)


def _calling_file() -> str:
    """The file of the nearest caller outside this module (a test module, or its own helper)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and os.path.normcase(frame.f_code.co_filename) == _HERE:
        frame = frame.f_back
    assert frame is not None, "called from this module only"
    return frame.f_code.co_filename


# -- findings ----------------------------------------------------------------------------------


def single(report: diagnostics.Report, code: str) -> diagnostics.Finding:
    """The one finding of ``code`` in ``report``; findings of other codes may be there too."""
    found = report.by_code(code)
    assert len(found) == 1, f"expected one {code} finding, got {report.findings}"
    return found[0]


def only_finding(
    report: diagnostics.Report,
    code: str,
    *,
    among: Collection[str] | None = None,
    severity: diagnostics.Severity | None = diagnostics.Severity.ERROR,
    located: bool = True,
) -> diagnostics.Finding:
    """The one finding of ``report``, which must have ``code``.

    ``among``: the family of codes that counts; codes outside it are ignored. By default
    ``code`` must be the only code in the report. ``severity``: the severity the finding must
    have (``None``: any). ``located``: the finding must point into the calling test module.
    """
    codes = report.codes() if among is None else report.codes() & set(among)
    assert codes == {code}, report.findings
    [finding] = report.by_code(code)
    if severity is not None:
        assert finding.severity is severity
    if located:
        assert finding.location is not None
        assert Path(finding.location.file).name == Path(_calling_file()).name, finding.location
    return finding


def assert_points_at(finding: diagnostics.Finding, marker: str) -> None:
    """``finding`` points at the line of the calling test module that ends with ``# marker``."""
    caller = _calling_file()
    assert finding.location is not None
    assert Path(finding.location.file).name == Path(caller).name
    assert finding.location.line == line_of(marker, caller), finding.location


def crash_report(
    fn: Callable[[], object], error: type[BaseException] = RuntimeError
) -> diagnostics.Report:
    """Run ``fn`` bare and watched; both must raise the same error. Returns the report."""
    with pytest.raises(error) as bare:
        fn()
    with pytest.raises(error) as watched, diagnostics.watch() as report:
        fn()
    assert type(watched.value) is type(bare.value)
    assert str(watched.value) == str(bare.value)
    return report


# -- courses and the kata command ----------------------------------------------------------------


CLI_COURSE = Path(__file__).parent / "data" / "cli_course"  # the tiny fake course


def copy_course(source: Path, target: Path) -> Path:
    """Copy the fake course ``source`` to ``target``, without the conftest.py that keeps the
    project's own test run out of its katas (nor bytecode). Returns ``target``."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("conftest.py", "__pycache__"))
    return target


def kata_command(
    capsys: pytest.CaptureFixture[str], *command: str, root: Path | None = None
) -> Callable[..., tuple[int, str, str]]:
    """A function that runs ``kata COMMAND ARGS [--root root]`` in this process and returns
    (exit code, stdout, stderr)."""
    from kata.cli import main  # only the course tests need the command

    tail = [] if root is None else ["--root", str(root)]

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([*command, *argv, *tail])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting for its parent does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(")")[-1].split()[0] == "Z")
