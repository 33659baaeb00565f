"""The learner's commands: list, check, hint, solution, reset."""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Callable
from pathlib import Path

from rich.console import Console, Group
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from kata.course import progress as _progress
from kata.course import shipped as _shipped
from kata.course.course import CommandError, Course
from kata.course.meta import META_FILE, KataMeta, KataMetaError
from kata.running.runner import Runner, RunResult, pytest_args
from kata.running.verdict import SOLVED, TIMED_OUT, judge

__all__ = [
    "check_timeout",
    "kata_or_first_unsolved",
    "kata_to_run",
    "load_progress",
    "raw_writer",
    "run_check",
    "run_hint",
    "run_kata",
    "run_list",
    "run_reset",
    "run_solution",
]

_BAR_WIDTH = 30
_STATUS = {
    "blind": ("✔", "solved blind", "green"),
    "solved": ("✔", "solved", "green"),
    "failing": ("✘", "failing", "red"),
    None: ("·", "not tried", "dim"),
}


def load_progress(course: Course, err: Console) -> _progress.Progress:
    """The learner's progress; a corrupt file is rebuilt and reported in one line."""
    progress = course.progress()
    if progress.problem:
        err.print(f"kata: warning: {progress.problem}", style="yellow", markup=False)
    return progress


def save_progress(progress: _progress.Progress, err: Console) -> None:
    """Save the learner's progress; a file that cannot be written is one line, not a crash."""
    try:
        progress.save()
    except _progress.ProgressSaveError as exc:
        err.print(f"kata: warning: {exc}", style="yellow", markup=False)


def kata_or_first_unsolved(
    course: Course, name: str | None, progress: _progress.Progress
) -> KataMeta | None:
    if name:
        return course.find(name)
    return course.first_unsolved(progress)


# -- kata list ------------------------------------------------------------------------------------
def run_list(args: argparse.Namespace, out: Console, err: Console) -> int:
    course = Course.locate(args.root)
    progress = load_progress(course, err)
    entries = course.entries()
    if args.day is not None:
        wanted = course.day(args.day)
        entries = [e for e in entries if _day_of(e) == wanted]
    if not entries:
        out.print(f"No katas in {course.katas_dir}. Instructors: 'kata new DAY SLUG' makes one.")
        return 0
    problems = 0
    for day, items in _by_day(entries).items():
        metas = [m for m in items if isinstance(m, KataMeta)]
        solved = sum(progress.status(m.id) == "solved" for m in metas)
        out.print(_day_header(day, solved, len(items)))
        rows = []
        for item in items:
            if isinstance(item, KataMetaError):
                problems += 1
                rows.append(
                    (
                        Text("  !", style="yellow"),
                        Text("broken metadata", "yellow"),
                        Text(_id_of(item.path.parent)),
                        Text(""),
                        Text(str(item), "yellow"),
                    )
                )
                continue
            status = progress.status(item.id)
            if status == "solved" and progress.solved_blind(item.id):
                status = "blind"
            mark, label, style = _STATUS[status]
            rows.append(
                (
                    Text(f"  {mark}", style=style),
                    Text(label, style=style),
                    Text(item.id),
                    _level_label(item),
                    Text(item.title),
                )
            )
        table = _kata_table(rows, out.width)
        out.print(table)
    first = course.first_unsolved(progress)
    if first is not None:
        out.print(f"\nNext: kata check {first.id}   (or kata watch to re-run on every save)")
    if problems:
        err.print(
            f"kata: error: {problems} kata(s) have broken metadata (shown above); "
            "run 'kata validate' for details.",
            style="red",
            markup=False,
        )
        return 1
    return 0


_TITLE_MIN = 24  # columns a title needs beside the id; narrower, it goes under the id


def _kata_table(rows: list[tuple[Text, Text, Text, Text, Text]], width: int) -> Table:
    """Mark, status, id and level whole (an id can be copied from here), the title beside
    them; on a terminal too narrow for that, the title goes on the line under the id."""
    table = Table.grid(padding=(0, 2))
    fixed = sum(max(row[i].cell_len for row in rows) for i in range(4)) + 2 * 4
    if width - fixed >= _TITLE_MIN:
        for _ in range(4):
            table.add_column(no_wrap=True)
        table.add_column()  # the title wraps instead
        for row in rows:
            table.add_row(*row)
        return table
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column()
    for mark, label, kata_id, level, title in rows:
        table.add_row(mark, label, Text.assemble(kata_id, "  ", level, "\n", title))
    return table


def _level_label(meta: KataMeta) -> Text:
    """``basic``, ``intermediate`` or ``advanced``; a build kata says so (``basic, build``)."""
    label = meta.level or "-"
    return Text(f"{label}, build" if meta.kind == "build" else label, style="dim")


def _day_of(entry: KataMeta | KataMetaError) -> int | None:
    if isinstance(entry, KataMeta):
        return entry.day
    name = entry.path.parent.parent.name
    return int(name[3:]) if name[3:].isdigit() else None


def _id_of(kata_dir: Path) -> str:
    return f"{kata_dir.parent.name}/{kata_dir.name}"


def _by_day(entries: list[KataMeta | KataMetaError]) -> dict[str, list[KataMeta | KataMetaError]]:
    days: dict[str, list[KataMeta | KataMetaError]] = {}
    for entry in entries:
        folder = entry.dir if isinstance(entry, KataMeta) else entry.path.parent
        days.setdefault(folder.parent.name, []).append(entry)
    return days


def _day_header(day: str, solved: int, total: int) -> Group:
    filled = round(_BAR_WIDTH * solved / total) if total else 0
    bar = Text.assemble(("█" * filled, "green"), ("░" * (_BAR_WIDTH - filled), "dim"))
    grid = Table.grid(padding=(0, 1))
    grid.add_row(Text(day, style="bold"), bar, Text(f"{solved} of {total} solved"))
    return Group(Text(""), grid)


# -- kata check -----------------------------------------------------------------------------------
def kata_to_run(
    args: argparse.Namespace, out: Console, err: Console
) -> tuple[Course, KataMeta] | None:
    """The course and the kata ``kata check`` / ``kata watch`` run: the one named, or the
    first unsolved; None (and a word of praise) when every kata is solved. A bad --timeout is
    refused before anything runs."""
    course = Course.locate(args.root)
    meta = kata_or_first_unsolved(course, args.kata, load_progress(course, err))
    if meta is None:
        out.print("Every kata is solved. Well done! Try 'kata drill' for interview practice.")
        return None
    check_timeout(args.timeout)
    return course, meta


def run_check(args: argparse.Namespace, out: Console, err: Console) -> int:
    chosen = kata_to_run(args, out, err)
    if chosen is None:
        return 0
    course, meta = chosen
    out.rule(f"{meta.id}: {meta.title}")
    runner = Runner(echo=raw_writer(out))
    blind = bool(getattr(args, "blind", False))
    result = run_kata(
        runner, course, meta, seed=args.seed, timeout=args.timeout, color=out, blind=blind
    )
    return show_verdict(course, meta, result, out, blind=blind)


def check_timeout(timeout: float | None) -> None:
    if timeout is not None and not timeout > 0:
        raise CommandError(f"--timeout must be a number of seconds above 0, not {timeout:g}.")


def run_kata(
    runner: Runner,
    course: Course,
    meta: KataMeta,
    *,
    seed: int,
    timeout: float | None,
    color: Console,
    blind: bool = False,
) -> RunResult:
    """One run of the learner's kata with its time budget, its report read back.

    The run's output takes the width of ``color`` (the console it is shown on) and its
    colours only when that console has them: never under NO_COLOR, always under FORCE_COLOR,
    else only on a terminal."""
    args = pytest_args(
        [meta.dir], root=course.root, seed=seed, color=uses_colour(color), timeout=timeout
    )
    if blind:
        args.append("--kata-blind")
    os.environ["COLUMNS"] = str(color.width)  # the run's panels fit this terminal
    budget = timeout if timeout is not None else meta.timeout
    return runner.run(args, report=True, timeout=budget, learner_dirs=[meta.dir])


def uses_colour(console: Console) -> bool:
    """Colour for a run shown on ``console``: rich's reading of the terminal and of
    FORCE_COLOR, less NO_COLOR (https://no-color.org), which wins."""
    return console.is_terminal and not console.no_color and console.color_system is not None


def show_verdict(
    course: Course, meta: KataMeta, result: RunResult, out: Console, *, blind: bool = False
) -> int:
    """One line saying where the learner stands, and the next command; the exit code. A
    solved kata also shows its interview question and how the fix compares to the
    reference."""
    verdict = judge(meta, result)
    if verdict.solved:
        after = course.next_after(meta, course.progress())
        following = f" Next: kata check {after.id}" if after else " Every kata is solved!"
        how = " blind" if blind else ""
        out.print(
            f"✔ {meta.id} solved{how} in {result.seconds:.1f} s.{following}",
            style="green",
            markup=False,
        )
        show_after_solving(course, meta, out)
        return 0
    if not result.complete:  # the run could not record it: the verdict does
        _record_failing(course, meta, out)
    learner_file = course.relative(meta.dir / meta.files[0])
    then = f"Edit {learner_file} and run it again; 'kata hint {meta.id}' gives the next hint."
    if verdict.reason:
        out.print(f"✘ {meta.id}: {verdict.reason}", style="red", markup=False)
        if not verdict.about_tests:  # the reason says what to do about the tests
            out.print(then, style="dim", markup=False)
        return 1
    still = "ran out of time" if verdict.status == TIMED_OUT else "is still failing"
    out.print(f"✘ {meta.id} {still}. {then}", style="red", markup=False)
    return 1


def _record_failing(course: Course, meta: KataMeta, out: Console) -> None:
    progress = course.progress()
    if progress.status(meta.id) == SOLVED or progress.status(meta.id) is None:
        progress.mark(meta.id, "failing")
        save_progress(progress, out)


def raw_writer(out: Console) -> Callable[[str], None]:
    """Pass pytest's output through as it is (it carries its own colours, if any)."""

    def write(text: str) -> None:
        out.file.write(text)
        out.file.flush()

    return write


def show_after_solving(course: Course, meta: KataMeta, out: Console) -> None:
    """The kata's interview question, where its model answer is, and the diff from the
    learner's files to the reference solution when the fix differs from it."""
    toml = course.relative(meta.dir / META_FILE)
    out.print()
    out.print(Text.assemble(("Interview question: ", "bold"), meta.interview_question))
    out.print(
        f"Answer it aloud, then read the model answer: [interview] answer in {toml}.",
        style="dim",
        markup=False,
    )
    diffs = [(name, diff) for name in meta.files if (diff := _diff(course, meta, name))]
    if not diffs:
        out.print("Your fix is the reference solution's, line for line.", markup=False)
        return
    out.print("Your fix differs from the reference solution; both pass. Compare:", markup=False)
    for name, diff in diffs:
        out.rule(f"{meta.id}: {name}, from yours to the reference")
        out.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))


def _shown(course: Course, location: str) -> str:
    """A finding's ``file:line``, the file named from the course's folder when it is in it."""
    path = Path(location)
    try:
        return str(path.relative_to(course.root))
    except ValueError:
        return location


def _diff(course: Course, meta: KataMeta, name: str) -> str:
    """The unified diff from the learner's ``name`` to the reference ('' when the same);
    CommandError when the reference is missing."""
    reference = meta.solution_dir / name
    if not reference.is_file():
        raise CommandError(f"The reference solution {reference} is missing from the course.")
    mine = meta.dir / name
    ours = mine.read_text(encoding="utf-8").splitlines(keepends=True) if mine.is_file() else []
    return "".join(
        difflib.unified_diff(
            ours,
            reference.read_text(encoding="utf-8").splitlines(keepends=True),
            f"{course.relative(mine)} (yours)",
            f"{course.relative(reference)} (reference)",
        )
    )


# -- kata hint ------------------------------------------------------------------------------------
def run_hint(args: argparse.Namespace, out: Console, err: Console) -> int:
    """The hint ladder: a question, the mechanism, where to look; its last rung is the fix
    the diagnosis gives for the learner's code as it is now (the kata is run to find it)."""
    course = Course.locate(args.root)
    meta = course.find(args.kata)
    progress = load_progress(course, err)
    total = len(meta.hints)
    if args.all:
        for number, hint in enumerate(meta.hints, start=1):
            out.print(Text.assemble((f"Hint {number} of {total}: ", "bold"), hint), soft_wrap=False)
        while progress.hints_used(meta.id) < total:
            progress.use_hint(meta.id)
        save_progress(progress, err)
        return show_fix(course, meta, out)
    seen = progress.hints_used(meta.id)
    if seen >= total:
        return show_fix(course, meta, out)
    number = progress.use_hint(meta.id)
    label = f"Hint {number} of {total} for {meta.id}: "
    out.print(Text.assemble((label, "bold"), meta.hints[number - 1]), soft_wrap=False)
    if number < total:
        out.print(f"Stuck still? 'kata hint {meta.id}' again gives hint {number + 1}.")
    else:
        out.print(f"That was the last hint. 'kata hint {meta.id}' once more shows the fix.")
    save_progress(progress, err)
    return 0


def show_fix(course: Course, meta: KataMeta, out: Console) -> int:
    """The ladder's last rung: the diagnosis' fix for the learner's code as it is now."""
    runner = Runner(echo=lambda _text: None)
    with out.status(f"Running {meta.id} to diagnose your code as it is now..."):
        result = run_kata(runner, course, meta, seed=0, timeout=None, color=out)
    entry = result.katas.get(meta.id) or {}
    fixes: dict[str, str] = {}
    for finding in entry.get("findings", ()):
        where = f" at {_shown(course, finding['location'])}" if finding.get("location") else ""
        label = f"{finding.get('severity', 'error')} {finding.get('code')}{where}"
        if finding.get("fix") and label not in fixes:
            fixes[label] = str(finding["fix"])
    if fixes:
        for label, fix in fixes.items():
            out.print(Text.assemble(("Fix ", "bold green"), (f"({label}): ", "bold"), fix))
        out.print(
            f"That is the last rung. Once solved, 'kata solution {meta.id}' compares your fix "
            "with the reference.",
            markup=False,
        )
        return 0
    if judge(meta, result).solved:
        out.print(f"{meta.id} passes as it is: nothing left to fix.", markup=False)
        return 0
    out.print(
        f"The diagnosis finds nothing to fix in your code as it is now: the test's message is "
        f"the clue ('kata check {meta.id}'). 'kata solution {meta.id} --force' shows the "
        "reference solution.",
        markup=False,
    )
    return 0


# -- kata solution --------------------------------------------------------------------------------
def run_solution(args: argparse.Namespace, out: Console, err: Console) -> int:
    course = Course.locate(args.root)
    meta = course.find(args.kata)
    progress = load_progress(course, err)
    if progress.status(meta.id) != "solved" and not args.force:
        raise CommandError(
            f"{meta.id} is not solved yet, so its solution stays hidden. Solve it "
            f"('kata check {meta.id}'), or see it now with 'kata solution {meta.id} --force'."
        )
    for name in meta.files:
        diff = _diff(course, meta, name)
        if not diff:
            out.print(f"Your {name} is the reference solution, line for line.")
            continue
        out.rule(f"{meta.id}: {name}, from yours to the reference")
        out.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))
    return 0


# -- kata reset -----------------------------------------------------------------------------------
def run_reset(args: argparse.Namespace, out: Console, err: Console) -> int:
    course = Course.locate(args.root)
    if args.tests:
        kata_dir = _kata_dir_named(course, args.kata)
        kata_id = f"{kata_dir.parent.name}/{kata_dir.name}"
        result = _shipped.reset_tests(kata_dir, course.root)
        what = "its tests and kata.toml are"
    else:
        meta = course.find(args.kata)
        kata_id = meta.id
        result = _shipped.reset(meta, course.root)
        what = "it is"
        progress = load_progress(course, err)
        if progress.status(meta.id) is not None:  # as shipped, the kata is neither solved nor tried
            progress.forget_run(meta.id)
            save_progress(progress, err)
    if not result.restored:
        out.print(f"{kata_id}: {what} already as shipped: nothing to reset.")
        return 0
    out.print(f"Reset {kata_id}: {', '.join(result.restored)} restored as shipped.")
    assert result.backup is not None
    out.print(f"Your version is kept in {course.relative(result.backup)}/", markup=False)
    return 0


def _kata_dir_named(course: Course, name: str) -> Path:
    """The folder of a kata, even when its kata.toml no longer loads (what --tests repairs)."""
    try:
        return course.find(name).dir
    except KataMetaError as exc:
        if exc.path.name == META_FILE:
            return exc.path.parent
        raise
