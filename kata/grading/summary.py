"""``kata summary``: a class's grade reports read together, as plain data.

Rendering (the rich grid) lives in _cli_grade; this module reads and checks the reports, and
computes the grid, each kata's solve rate and the finding codes most common among failing
attempts, which the CSV and JSON outputs write as they are.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kata.course.course import CommandError

from .grade import GRADE_FORMAT, GRADE_VERSION, STATUSES

__all__ = ["ClassSummary", "Report", "read_reports", "summarize"]

SUMMARY_FORMAT = "torch-katas class summary"
SUMMARY_VERSION = 1
_COMMON = 5  # finding codes listed
_ATTEMPTS = ("failing", "timed out", "tampered")  # what counts as a failing attempt


@dataclass(frozen=True)
class Report:
    path: Path
    learner: str
    revision: str
    katas: dict[str, dict[str, Any]]


def read_reports(paths: Sequence[Path]) -> tuple[list[Report], list[str]]:
    """Read and check grade reports; returns them and warnings (one line each).

    A file that is not a grade report is an error naming the file; two reports of one learner
    are both kept, the second named ``NAME (2)``.
    """
    reports: list[Report] = []
    warnings: list[str] = []
    seen: Counter[str] = Counter()
    for path in paths:
        data = _load(path)
        learner = str(data["learner"])
        seen[learner] += 1
        if seen[learner] > 1:
            warnings.append(f"{path}: a second report of {learner!r}; shown as its own column.")
            learner = f"{learner} ({seen[learner]})"
        revision = str(data["course"]["revision"])
        reports.append(Report(path, learner, revision, dict(data["katas"])))
    revisions = {r.revision for r in reports}
    if len(revisions) > 1:
        by = ", ".join(f"{r.learner}: {r.revision[:15]}" for r in reports)
        warnings.append(f"the reports were graded against different course revisions ({by}).")
    return reports, warnings


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file. Pass the reports 'kata grade' wrote.") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"{path}: not a readable JSON grade report ({exc}).") from None
    if not isinstance(data, dict) or data.get("format") != GRADE_FORMAT:
        raise CommandError(
            f"{path}: not a grade report (its 'format' should be {GRADE_FORMAT!r}). "
            "'kata grade --report PATH' writes one."
        )
    if data.get("version") != GRADE_VERSION:
        raise CommandError(
            f"{path}: grade report version {data.get('version')!r}; this torch-katas reads "
            f"version {GRADE_VERSION}."
        )
    katas = data.get("katas")
    course = data.get("course")
    if not isinstance(katas, dict) or not isinstance(course, dict) or "learner" not in data:
        raise CommandError(f"{path}: an incomplete grade report (learner, course or katas).")
    for kata_id, entry in katas.items():
        if not isinstance(entry, dict) or entry.get("status") not in STATUSES:
            raise CommandError(f"{path}: kata {kata_id!r} has no valid status.")
    return data


@dataclass
class ClassSummary:
    learners: list[str]
    katas: list[str]
    grid: dict[str, dict[str, str]]  # kata -> learner -> status
    codes: dict[str, dict[str, list[str]]]  # kata -> learner -> finding codes
    common: list[tuple[str, int]] = field(default_factory=list)  # code, failing attempts

    def solve_rate(self, kata: str) -> tuple[int, int]:
        """(solved, graded) for one kata: learners whose report holds it."""
        row = self.grid[kata]
        return sum(s == "solved" for s in row.values()), len(row)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SUMMARY_FORMAT,
            "version": SUMMARY_VERSION,
            "learners": self.learners,
            "katas": {
                kata: {
                    "solved": self.solve_rate(kata)[0],
                    "graded": self.solve_rate(kata)[1],
                    "statuses": self.grid[kata],
                }
                for kata in self.katas
            },
            "common_codes": [{"code": c, "failing_attempts": n} for c, n in self.common],
        }

    def write_csv(self, path: Path) -> None:
        """One row per kata and learner: the long format spreadsheets and pandas read."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["kata", "learner", "status", "codes"])
            for kata in self.katas:
                for learner in self.learners:
                    if learner in self.grid[kata]:
                        codes = " ".join(self.codes[kata][learner])
                        writer.writerow([kata, learner, self.grid[kata][learner], codes])


def summarize(reports: Sequence[Report]) -> ClassSummary:
    learners = [r.learner for r in reports]
    katas = sorted({kata for r in reports for kata in r.katas})
    grid: dict[str, dict[str, str]] = {k: {} for k in katas}
    codes: dict[str, dict[str, list[str]]] = {k: {} for k in katas}
    common: Counter[str] = Counter()
    for r in reports:
        for kata, entry in r.katas.items():
            grid[kata][r.learner] = entry["status"]
            codes[kata][r.learner] = list(entry.get("codes", []))
            if entry["status"] in _ATTEMPTS:
                common.update(set(entry.get("codes", [])))
    return ClassSummary(learners, katas, grid, codes, common.most_common(_COMMON))
