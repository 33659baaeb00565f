"""The instructor's grading commands: ``kata grade`` and ``kata summary``."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kata.course.course import CommandError, Course
from kata.grading import grade as _grade
from kata.grading import summary as _summary
from kata.report import write_json
from kata.running.runner import Runner

from .learn import check_timeout

__all__ = ["EXERCISM_FILE", "FORMATS", "run_grade", "run_summary"]

FORMATS = ("torch-katas", "exercism")
EXERCISM_FILE = "results.json"
_MARKS = {  # a mark per status that reads without colour (NO_COLOR)
    "solved": ("✔", "green"),
    "failing": ("✘", "red"),
    "not attempted": ("·", "dim"),
    "timed out": ("T", "red"),
    "tampered": ("!", "yellow"),
}
_LEGEND = "  ".join(f"{mark} {status}" for status, (mark, _) in _MARKS.items())


# -- kata grade -----------------------------------------------------------------------------------
def run_grade(args: argparse.Namespace, out: Console, err: Console) -> int:
    course = Course.locate(args.root)
    check_timeout(args.timeout)
    kata_dirs = _grade.select(course, args.katas)
    if not kata_dirs:
        raise CommandError(f"No katas to grade in {course.katas_dir}.")
    learner = args.learner or _default_learner()
    target = Path(args.report) if args.report else None
    if target is None and args.format == "exercism":
        target = Path(EXERCISM_FILE)
    runner = Runner(echo=lambda text: None)  # the grade comes from each run's report
    with out.status("Starting: importing torch once, so that every kata's run starts warm..."):
        runner.warm()

    def show(graded: _grade.Graded) -> None:
        mark, style = _MARKS[graded.status]
        line = Text.assemble(
            (f"{mark} {graded.id}", style),
            f"  {graded.status}",
            (f"  {graded.seconds:.1f} s", "dim"),
        )
        if graded.codes and graded.status != "solved":
            line.append(f"  ({', '.join(graded.codes)})", "dim")
        out.print(line)
        if graded.problem and graded.status != "not attempted":
            out.print(f"    {graded.problem}", style="dim", markup=False)

    graded = _grade.grade_katas(
        course, kata_dirs, runner=runner, seed=args.seed, timeout=args.timeout, on_graded=show
    )
    solved = sum(g.status == "solved" for g in graded)
    revision = _grade.course_revision(course)
    if target is not None:
        if args.format == "exercism":
            data = _grade.exercism(graded)
        else:
            data = _grade.report(
                graded, learner=learner, revision=revision, seed=args.seed, timeout=args.timeout
            )
        try:
            write_json(target, data)
        except OSError as exc:
            raise CommandError(f"The report could not be written to {target}: {exc}") from None
    style = "green" if solved == len(graded) else "red"
    out.print(
        f"{learner}: {solved} of {len(graded)} kata{'s' if len(graded) != 1 else ''} solved "
        f"(course revision {revision[7:19]}).",
        style=style,
        markup=False,
    )
    if target is not None:
        out.print(f"Report written to {target}", markup=False)
    return 0 if solved == len(graded) else 1


def _default_learner() -> str:
    for name in ("GITHUB_ACTOR", "USER", "USERNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "learner"


# -- kata summary ---------------------------------------------------------------------------------
def run_summary(args: argparse.Namespace, out: Console, err: Console) -> int:
    paths = [Path(p) for p in args.reports]
    reports, warnings = _summary.read_reports(paths)
    for warning in warnings:
        err.print(f"kata: warning: {warning}", style="yellow", markup=False)
    summary = _summary.summarize(reports)
    for table in _grids(summary, out.width):
        out.print(table)
    out.print(_LEGEND, style="dim")
    if summary.common:
        out.print("\nMost common findings among failing attempts:", style="bold")
        for code, count in summary.common:
            out.print(f"  {code}: {count} attempt{'s' if count != 1 else ''}", markup=False)
    if args.csv:
        summary.write_csv(Path(args.csv))
        out.print(f"CSV written to {args.csv}", markup=False)
    if args.json:
        write_json(Path(args.json), summary.to_dict())
        out.print(f"JSON written to {args.json}", markup=False)
    return 0


_NAME_WIDTH = 12  # a learner's column at most


def _grids(summary: _summary.ClassSummary, width: int) -> list[Table]:
    """The kata x learner grid, split into as many tables as it takes to fit ``width``."""
    kata_width = max((len(k) for k in summary.katas), default=4)
    rate_width = len("solved") + 8
    per_learner = min(max((len(n) for n in summary.learners), default=1), _NAME_WIDTH) + 2
    room = max(width - kata_width - rate_width - 4, per_learner)
    chunk = max(1, room // per_learner)
    tables = []
    for start in range(0, max(len(summary.learners), 1), chunk):
        learners = summary.learners[start : start + chunk]
        table = Table(box=None, pad_edge=False, padding=(0, 1))
        table.add_column("kata", no_wrap=True)
        for name in learners:
            table.add_column(name, justify="center", no_wrap=True, max_width=_NAME_WIDTH)
        table.add_column("solved", justify="right", no_wrap=True)
        for kata in summary.katas:
            row = summary.grid[kata]
            cells = []
            for name in learners:
                mark, style = _MARKS.get(row.get(name, ""), (" ", ""))
                cells.append(Text(mark, style=style))
            done, total = summary.solve_rate(kata)
            rate = f"{done}/{total} {round(100 * done / total) if total else 0:>3}%"
            table.add_row(Text(kata), *cells, Text(rate))
        tables.append(table)
    return tables
