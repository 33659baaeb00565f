"""The failure block of a kata test: what happened in the learner's words, the diagnosis
once per kata, the next hint, and the command to run it again."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest

from kata.course.loader import KataLoadError
from kata.course.meta import META_FILE, TEST_FILE, KataMetaError

from .state import KataDiagnosisFailed, KataTimeout, Run, Test

__all__ = ["failure_block", "longrepr", "trimmed_sections", "what_happened"]

_SHOWN_ABOVE = "diagnosis and hint above"
_FIX_WITHHELD = "the fix is the last rung of: kata hint {kata}"
# Captured output of a kata's first failing test: its last lines only (--kata-traceback: all).
_OUTPUT_LINES = 3
_PANEL_WIDTH = 100  # the widest a diagnosis panel gets, whatever the terminal
_TIMEOUT_ADVICE = (
    "Look for a loop that never ends, or one far longer than the lesson needs (an epoch count "
    "or a data set grown by mistake). The kata's budget is 'timeout' in its {meta}; "
    "'kata check --timeout SECONDS' changes it for one run."
)
_EXIT_CALLED = (
    "Your code called sys.exit({code!r}). A kata's code must return to the test, not end the "
    "process: remove the call (or keep it under 'if __name__ == \"__main__\":')."
)

# -- the block --------------------------------------------------------------------------


def failure_block(
    item: pytest.Item, test: Test, excinfo: Any, run: Run, when: str
) -> tuple[str, str]:
    """A one-line headline for pytest's short summary, and the block for the failure.

    The diagnosis, the hint and the command to run again come once per kata, in the block of
    its first failing test; the blocks of its other tests show their symptom only."""
    meta = test.meta
    kata_id = f"{test.kata_dir.parent.name}/{test.kata_dir.name}"
    happened = what_happened(excinfo, test, advice=True)
    headline = f"Kata {kata_id}: {happened.splitlines()[0]}"
    title = f"Kata {kata_id}: {meta.title}" if meta else f"Kata {kata_id}"
    failed = f"{item.name} {'failed' if when == 'call' else 'could not run'}."
    shown = run.shown.get(test.kata_dir)
    if shown is not None:  # the test's name is in pytest's header of the block
        above = "its first failure above" if run.blind else _SHOWN_ABOVE
        return headline, f"Kata {kata_id} ({above}): {happened}"
    run.shown[test.kata_dir] = item.name
    parts = [title, happened] if when == "call" else [title, failed, happened]
    if test.report is not None and test.report.findings and not run.blind:
        report = _learners_locations(test.report, excinfo, test)
        label = (
            "Diagnosis:"
            if run.show_fix
            else f"Diagnosis ({_FIX_WITHHELD.format(kata=_short_id(test.kata_dir))}):"
        )
        parts += [label, _report_text(report, run).rstrip()]
    if meta is not None and not run.blind:
        used = run.hints_used(meta)
        number = min(used, len(meta.hints) - 1) + 1
        parts += [f"Hint {number} of {len(meta.hints)}: {meta.hints[number - 1]}"]
    where = _display(test.kata_dir, item.config.rootpath)
    parts += [f"Run it again: pytest {where}{' --kata-blind' if run.blind else ''}"]
    return headline, "\n".join(parts)


def _short_id(kata_dir: Path) -> str:
    """``day11/01``: what ``kata`` accepts for ``day11/01_gradients_pile_up``."""
    number = kata_dir.name.split("_", 1)[0]
    return f"{kata_dir.parent.name}/{number}" if number.isdigit() else kata_dir.name


def trimmed_sections(sections: list[tuple[str, str]], *, first: bool) -> list[tuple[str, str]]:
    """The captured output of a kata's first failing test, its last lines only; none for the
    kata's other tests (the same training, printed again)."""
    kept = []
    for title, text in sections:
        if not title.startswith("Captured"):
            kept.append((title, text))
        elif first:
            lines = text.rstrip("\n").splitlines()
            if len(lines) > _OUTPUT_LINES + 1:  # a note in place of one line saves nothing
                left = len(lines) - _OUTPUT_LINES
                note = f"({left} earlier lines left out; --kata-traceback shows them all)"
                lines = [note, *lines[-_OUTPUT_LINES:]]
            kept.append((title, "\n".join(lines) + "\n"))
    return kept


def _learners_locations(report: Any, excinfo: Any, test: Test) -> Any:
    """The report with every finding placed in the learner's code, named from the kata's
    folder (``train.py:33``): a location in a test file or in the diagnostics engine becomes
    the learner's line of the failure, or none."""
    import dataclasses

    from diagnostics import Location

    frame = _learner_frames(excinfo.tb, test)
    fallback = Location(frame[0], frame[1]) if frame else None
    findings = []
    for finding in report.findings:
        place = finding.location
        if place is not None and not _learners(place.file):
            place = fallback
        if place is not None:
            place = dataclasses.replace(place, file=_in_kata_dir(place.file, test))
        findings.append(dataclasses.replace(finding, location=place))
    return dataclasses.replace(report, findings=findings, _index={})


def _learners(file: str) -> bool:
    path = Path(file)
    return not (path.name.startswith("test_") or path.name == "conftest.py"
                or "diagnostics" in path.parts)  # fmt: skip


def _in_kata_dir(file: str, test: Test) -> str:
    """A learner's file as named from its kata's folder; other files as they were."""
    path = Path(file)
    if not path.is_absolute():
        path = Path.cwd() / path
    return path.name if _in_kata(path, test) else file


def longrepr(item: pytest.Item, headline: str, block: str) -> Any:
    """The block as pytest's own failure representation, so that the short summary (and
    ``--tb=line``) show the headline, not the whole block; it travels through xdist as is."""
    try:
        from _pytest._code.code import (
            ReprExceptionInfo,
            ReprFileLocation,
            ReprTracebackNative,
        )
    except ImportError:  # pytest internals moved: a plain string still shows the block
        return block
    path, line, _ = item.location
    one_line = item.config.getoption("tbstyle", "auto") == "line"  # the headline says it all
    return ReprExceptionInfo(
        reprtraceback=ReprTracebackNative([] if one_line else [block + "\n"]),
        reprcrash=ReprFileLocation(path, (line or 0) + 1, headline),
    )


def what_happened(excinfo: Any, test: Test, advice: bool = True) -> str:
    exc = excinfo.value
    if isinstance(exc, KataTimeout):
        where = _learner_frame(excinfo.tb, test)
        text = f"{exc}{where.replace(chr(10) + '  at', chr(10) + '  It was running')}"
        if advice:
            text += "\n" + _TIMEOUT_ADVICE.format(meta=META_FILE)
        return text
    if isinstance(exc, SystemExit):
        return _EXIT_CALLED.format(code=exc.code) + _learner_frame(excinfo.tb, test)
    if isinstance(exc, (KataLoadError, KataDiagnosisFailed)):
        return str(exc)
    if isinstance(exc, KataMetaError):
        return f"The kata's {META_FILE} is invalid, so the kata cannot run:\n  {exc}"
    if isinstance(exc, AssertionError):
        return "The test says: " + _plain_assertion(str(exc))
    where = _learner_frame(excinfo.tb, test)
    return f"Your code stopped with {type(exc).__name__}: {exc}{where}"


def _plain_assertion(message: str) -> str:
    """The author's words, without pytest's rewritten 'assert a < b' explanation."""
    lines = message.splitlines()
    words = []
    for line in lines:
        if line.startswith("assert "):
            break
        words.append(line)
    return "\n".join(words).strip() or (lines[0] if lines else "an assertion failed.")


def _learner_frame(tb: Any, test: Test) -> str:
    """' at train.py:23' and its source line: the last frame of a kata file in the traceback."""
    frame = _learner_frames(tb, test)
    if frame is None:
        return ""
    return f"\n  at {Path(frame[0]).name}:{frame[1]}: {frame[2]}"


def _learner_frames(tb: Any, test: Test) -> tuple[str, int, str] | None:
    """(file, line, source) of the last frame of a kata file (not its test) in ``tb``."""
    frames = [
        f
        for f in traceback.extract_tb(tb)
        if Path(f.filename).name != TEST_FILE and _in_kata(Path(f.filename), test)
    ]
    if not frames:
        return None
    frame = frames[-1]
    return frame.filename, frame.lineno or 0, (frame.line or "").strip()


def _in_kata(path: Path, test: Test) -> bool:
    folders = [test.kata_dir]
    if test.meta is not None:
        folders.append(test.meta.solution_dir)
    return any(path.parent.resolve() == folder.resolve() for folder in folders)


def _report_text(report: Any, run: Run) -> str:
    """The diagnosis as panels the terminal's width (100 columns at most), the fix only with
    --kata-show-fix."""
    try:
        from diagnostics import report_text
    except ImportError:
        return "\n".join(
            f"{f.severity.value} {f.code}"
            + (f" at {f.location}" if f.location else "")
            + f": {f.message}"
            + (f"\n  fix: {f.fix}" if run.show_fix else "")
            for f in report.findings
        )
    width = max(20, min(run.width, _PANEL_WIDTH))
    text = report_text(report, width, show_fix=run.show_fix, summary=False, compact=True)
    return str(text)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
