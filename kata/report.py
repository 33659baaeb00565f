"""What a run of the katas achieved: per-kata results, the summary lines and the JSON report.

Results are built from pytest's test reports only (their ``user_properties``), so that they
are the same whether the tests ran in this process or on ``pytest-xdist`` workers, whose
reports reach the controller serialized. The JSON format is documented in
docs/kata-report.md; bump ``REPORT_VERSION`` on any change that is not an added field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .atomic import write_atomic

__all__ = [
    "DAY",
    "FINDINGS",
    "ID",
    "MESSAGE",
    "PROBLEM",
    "ROOT",
    "TIMED_OUT",
    "TITLE",
    "Results",
    "write_json",
]

REPORT_FORMAT = "torch-katas kata report"
REPORT_VERSION = 1

# user_properties keys carried by every report of a kata test
ID, DAY, TITLE, ROOT, FINDINGS, PROBLEM = (
    "kata.id",
    "kata.day",
    "kata.title",
    "kata.root",
    "kata.findings",
    "kata.problem",
)
# ... and by the report of a failed test: what happened, in one message; the budget it ran past
MESSAGE, TIMED_OUT = "kata.message", "kata.timed_out"

STATUSES = ("solved", "failing", "timed out", "skipped")

# A test's outcome is the worst of its phases'.
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


@dataclass
class KataResult:
    """Everything a run learned about one kata."""

    id: str
    day: str
    title: str
    root: str
    tests: dict[str, str] = field(default_factory=dict)  # test name -> outcome
    findings: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    seconds: float = 0.0  # setup, call and teardown of all its tests
    messages: dict[str, str] = field(default_factory=dict)  # failed test -> what happened
    timed_out: float | None = None  # the time budget its tests ran past
    modified: list[str] = field(default_factory=list)  # course files that differ as shipped

    @property
    def status(self) -> str:
        """ "solved" when every test passed, "timed out" when one ran past the kata's budget,
        "skipped" when none failed and some were skipped; "failing" otherwise, and whenever a
        problem (a test file missing, edited or not collected) stopped the kata's own tests."""
        outcomes = set(self.tests.values())
        if self.timed_out is not None:
            return "timed out"
        if not outcomes or outcomes & {"failed", "error"} or self.problem:
            return "failing"
        return "solved" if outcomes == {"passed"} else "skipped"

    @property
    def solved(self) -> bool:
        return self.status == "solved"

    def codes(self) -> list[str]:
        return sorted({f["code"] for f in self.findings})


class Results:
    """Per-kata results, fed with pytest reports as they arrive."""

    def __init__(self) -> None:
        self.katas: dict[str, KataResult] = {}

    def __bool__(self) -> bool:
        return bool(self.katas)

    def add(
        self,
        *,
        nodeid: str,
        when: str,
        outcome: str,
        properties: Iterable[Any],
        seconds: float = 0.0,
    ) -> None:
        props = dict(properties)
        if ID not in props:
            return
        result = self.katas.get(props[ID])
        if result is None:
            result = self.katas[props[ID]] = KataResult(
                props[ID], props[DAY], props.get(TITLE, ""), props[ROOT]
            )
        result.seconds += seconds
        test = nodeid.split("::", 1)[-1]
        if when != "call":  # a setup or teardown counts only when it did not pass
            outcome = {"failed": "error", "skipped": "skipped"}.get(outcome, "")
        if outcome:
            previous = result.tests.get(test, "passed")
            result.tests[test] = max(previous, outcome, key=_RANK.__getitem__)
        for finding in props.get(FINDINGS, ()):
            result.findings.append({**finding, "test": test})
        if props.get(PROBLEM) and not result.problem:
            result.problem = props[PROBLEM]
        if props.get(MESSAGE) and test not in result.messages:
            result.messages[test] = props[MESSAGE]
        if props.get(TIMED_OUT) is not None:
            result.timed_out = props[TIMED_OUT]

    def by_day(self) -> dict[str, list[KataResult]]:
        days: dict[str, list[KataResult]] = {}
        for result in sorted(self.katas.values(), key=lambda r: r.id):
            days.setdefault(result.day, []).append(result)
        return days

    def summary_lines(self) -> list[str]:
        """One line per day run: ``day11: 3 of 10 katas solved``."""
        return [
            f"{day}: {sum(r.solved for r in results)} of {len(results)} "
            f"kata{'s' if len(results) != 1 else ''} solved"
            for day, results in self.by_day().items()
        ]

    def to_dict(self, *, seed: int, solution: bool, hints: dict[str, int]) -> dict[str, Any]:
        """The JSON report (docs/kata-report.md)."""
        import torch

        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": seed,
            "variant": "solution" if solution else "learner",
            "torch": torch.__version__,
            "days": {
                day: {"katas": len(results), "solved": sum(r.solved for r in results)}
                for day, results in self.by_day().items()
            },
            "katas": {
                r.id: {
                    "day": r.day,
                    "title": r.title,
                    "status": r.status,
                    "solved": r.solved,
                    "codes": r.codes(),
                    "findings": r.findings,
                    "hints_used": hints.get(r.id, 0),
                    "tests": dict(sorted(r.tests.items())),
                    "messages": dict(sorted(r.messages.items())),
                    "timed_out": r.timed_out,
                    "modified": r.modified,
                    "problem": r.problem,
                    "seconds": round(r.seconds, 3),
                }
                for r in sorted(self.katas.values(), key=lambda r: r.id)
            },
        }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically, so that a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=2) + "\n")
