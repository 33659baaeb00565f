"""What one run of one kata means: solved, failing or timed out, and why, in one line.

A kata is solved only when every test of its test file ran and passed, in a process that
ended normally and wrote the kata plugin's report, with the course's own test file. Anything
else is not solved, and says why: the run ended early (``os._exit``, ``sys.exit`` at import),
it ran past its time budget, its tests could not be collected, are missing or were edited.
``kata check``, ``kata watch`` and ``kata grade`` all judge a run here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kata.course.meta import KataMeta

from .runner import RunResult

__all__ = ["Verdict", "judge"]

SOLVED, FAILING, TIMED_OUT = "solved", "failing", "timed out"

_ENDED_EARLY = (
    "The test run ended before its tests finished (exit code {code}), so the kata is not "
    "solved.{where} A kata's code must return to its tests: remove the call that ends the "
    "process."
)
_CRASHED = (
    "The test run stopped with exit code {code} before its tests finished, so the kata is not "
    "solved; its output above says why."
)
_KILLED = (
    "{file} did not finish in {budget:g} s{where}. The run was stopped and nothing of it is "
    "left running. Look for a loop that never ends; the budget is 'timeout' in the kata's "
    "kata.toml, and --timeout SECONDS changes it for one run."
)
_NO_TEST_RAN = (
    "No test of the kata ran, so it is not solved. 'kata reset --tests {id}' restores them."
)
_SKIPPED = "The kata's tests were skipped (the reason is above), so it is not solved."
_EXIT_CALL = re.compile(r"\b(os\._exit|sys\.exit|exit|quit)\s*\(")


@dataclass(frozen=True)
class Verdict:
    status: str  # "solved", "failing" or "timed out"
    reason: str | None = None  # one line saying why it is not solved, when its output does not
    about_tests: bool = False  # the reason is the kata's tests (missing, edited, not collected)

    @property
    def solved(self) -> bool:
        return self.status == SOLVED


def judge(meta: KataMeta, result: RunResult) -> Verdict:
    """The verdict of a run made with ``report=True``."""
    if result.timed_out is not None:
        where = f"; it was running {result.where}" if result.where else ""
        return Verdict(
            TIMED_OUT,
            _KILLED.format(file=meta.files[0], budget=result.timed_out, where=where),
        )
    if not result.complete and result.exit_code in (0, 1):  # a clean exit, from the code
        call = exit_call(meta.dir, meta.files)
        where = f" It ended at {call}." if call else ""
        return Verdict(FAILING, _ENDED_EARLY.format(code=result.exit_code, where=where))
    if not result.complete:
        return Verdict(FAILING, _CRASHED.format(code=result.exit_code))
    entry = result.katas.get(meta.id)
    if entry is None:
        return Verdict(FAILING, _NO_TEST_RAN.format(id=meta.id), about_tests=True)
    if entry["status"] == SOLVED and result.exit_code == 0:
        return Verdict(SOLVED)
    if entry["status"] == TIMED_OUT:
        return Verdict(TIMED_OUT, None)  # the run's own block says where
    if entry["status"] == "skipped":
        return Verdict(FAILING, _SKIPPED)
    problem = entry.get("problem")
    return Verdict(FAILING, problem, about_tests=bool(problem))


def exit_call(folder: Path, files: tuple[str, ...]) -> str | None:
    """``train.py:3: os._exit(0)``: the first call that ends the process in the learner's files."""
    for name in files:
        try:
            lines = (folder / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines, start=1):
            code = line.split("#", 1)[0]
            if _EXIT_CALL.search(code):
                return f"{name}:{number}: {line.strip()}"
    return None
