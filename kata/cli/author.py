"""The course author's commands: new, break, validate, ship."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from kata.atomic import write_atomic
from kata.authoring.contract import check_course, unified_diff
from kata.authoring.scaffold import scaffold, template_texts
from kata.course import shipped as _shipped
from kata.course.course import CommandError, Course
from kata.course.meta import META_FILE, TEST_FILE, KataMeta, KataMetaError
from kata.faults.breaking import OPERATORS, break_source

__all__ = ["run_break", "run_new", "run_ship", "run_validate"]

_DAY_ARG = re.compile(r"(?:day)?(\d{1,2})")


# -- kata new -------------------------------------------------------------------------------------
def run_new(args: argparse.Namespace, out: Console, err: Console) -> int:
    course = Course.locate(args.root)
    match = _DAY_ARG.fullmatch(args.day.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"DAY must be a day number such as 11 or day11, not {args.day!r}.")
    created = scaffold(course, int(match.group(1)), args.slug)
    out.print(f"Created kata {created.id}:")
    for path in created.files:
        out.print(f"  {course.relative(path)}", markup=False)
    solution = course.relative(created.solution)
    kata_file = course.relative(created.kata_dir / "train.py")
    steps = [
        f"Write the correct training script in {solution} (it trains in well under 2 s).",
        f"Make the learner's copy broken in exactly one way: 'kata break {solution} --fault "
        f"CODE -o {kata_file}' (or edit {kata_file} by hand).",
        f"Fill in {course.relative(created.kata_dir / META_FILE)}: title, concept, codes, the "
        "three hints and the [interview] question and answer.",
        f"Write the tests in {course.relative(created.kata_dir / TEST_FILE)}: assert on the "
        "symptom, in plain words.",
        f"Record the shipped copy with 'kata ship {created.id}', then check everything with "
        f"'kata validate {created.id}'.",
    ]
    out.print("\nNow:")
    for number, step in enumerate(steps, start=1):
        out.print(f"  {number}. {step}", markup=False)
    if created.new_day:
        readme = course.relative(created.kata_dir.parent / "README.md")
        out.print(f"  {len(steps) + 1}. Write the day's lesson in {readme}.", markup=False)
    return 0


# -- kata break -----------------------------------------------------------------------------------
def run_break(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.list:
        table = Table(box=None, pad_edge=False)
        table.add_column("operator", no_wrap=True)
        table.add_column("finding code", no_wrap=True)
        table.add_column("what it does")
        for op in OPERATORS.values():
            table.add_row(op.name, op.code, op.does)
        out.print(table)
        return 0
    if not args.file or not args.fault:
        raise CommandError(
            "kata break needs a correct script and a fault: kata break SOLUTION_FILE --fault "
            "FAULT [-o OUT]. 'kata break --list' shows the faults."
        )
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"{path}: no such file. Give the path of a correct training script.")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot read it ({exc}).") from None
    mutation = break_source(source, args.fault, filename=str(path))
    op = mutation.operator
    what = f"{op.name} ({op.does}), first change at line {mutation.line}"
    if args.output:
        target = Path(args.output)
        if target.resolve() == path.resolve():
            raise CommandError(
                f"{target} is the correct script itself: write the broken one elsewhere (-o)."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(mutation.source, encoding="utf-8")
        err.print(f"Wrote {target}: {what}.", markup=False)
    else:
        out.file.write(mutation.source)
        out.file.flush()
        err.print(f"Applied {what}.", markup=False)
    err.print(f"The diagnostics should report exactly: {op.code}", markup=False)
    return 0


# -- kata ship ------------------------------------------------------------------------------------
def run_ship(args: argparse.Namespace, out: Console, err: Console) -> int:
    course = Course.locate(args.root)
    for entry in _select(course, args.katas):
        if isinstance(entry, KataMetaError):
            raise entry  # shipping files of a kata that does not load would hide the error
        written = _shipped.ship(entry)
        paths = ", ".join(course.relative(p) for p in written)
        out.print(f"Shipped {entry.id}: {paths}", markup=False)
    return 0


def _select(course: Course, names: list[str]) -> Sequence[KataMeta | KataMetaError]:
    """The katas named (kata names or days), or every kata; in course order.

    A kata whose kata.toml does not load is its error, whatever names it: a day holding it,
    or its own name.
    """
    entries = course.entries()
    if not names:
        return entries
    chosen: dict[str, KataMeta | KataMetaError] = {}
    for name in names:
        matched = _matching_errors(course, name)
        day = _DAY_ARG.fullmatch(name.strip().lower())
        if day and "/" not in name:
            number = int(day.group(1))
            chosen.update({m.id: m for m in course.katas() if m.day == number})
            chosen.update(matched)
            if not any(_day_number(e) == number for e in chosen.values()):
                course.day(name)  # raises: no such day, with the days there are
        else:
            try:
                meta = course.find(name)
            except (CommandError, KataMetaError):
                if not matched:
                    raise
                chosen.update(matched)
                continue
            chosen[meta.id] = meta
    order = {_entry_id(e): i for i, e in enumerate(entries)}
    return sorted(chosen.values(), key=lambda entry: order.get(_entry_id(entry), 0))


def _entry_id(entry: KataMeta | KataMetaError) -> str:
    if isinstance(entry, KataMeta):
        return entry.id
    return f"{entry.path.parent.parent.name}/{entry.path.parent.name}"


def _day_number(entry: KataMeta | KataMetaError) -> int | None:
    if isinstance(entry, KataMeta):
        return entry.day
    match = re.fullmatch(r"day0*(\d+)", entry.path.parent.parent.name)
    return int(match.group(1)) if match else None


def _matching_errors(course: Course, name: str) -> dict[str, KataMetaError]:
    """Katas that do not load and that ``name`` means: their day, their folder, their slug."""
    wanted = name.strip().strip("/").replace("\\", "/").lower()
    wanted = wanted.removeprefix("katas/")
    day = _DAY_ARG.fullmatch(wanted)
    found = {}
    for entry in course.entries():
        if not isinstance(entry, KataMetaError):
            continue
        kata_dir = entry.path.parent
        folder, day_name = kata_dir.name, kata_dir.parent.name
        number, _, slug = folder.partition("_")
        names = {f"{day_name}/{folder}", f"{day_name}/{number}", folder, slug}
        by_path = Path(name).resolve() in (kata_dir.resolve(), entry.path.resolve())
        by_day = day is not None and "/" not in wanted and _day_number(entry) == int(day.group(1))
        if wanted in names or by_path or by_day:
            found[_entry_id(entry)] = entry
    return found


# -- kata validate --------------------------------------------------------------------------------
def run_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    course = Course.locate(args.root)
    if args.seeds < 1:
        raise CommandError(f"--seeds must be at least 1, not {args.seeds}.")
    if args.time_budget is not None and args.time_budget <= 0:
        raise CommandError(
            f"--time-budget must be a number of seconds above 0, not {args.time_budget}."
        )
    entries = _select(course, args.katas)
    if not entries:
        raise CommandError(f"No katas to validate in {course.katas_dir}.")
    runs = not args.no_run
    what = f"Running {len(entries)} kata(s), broken and solved, seeds 0..{args.seeds - 1}..."
    with out.status(what) if runs else contextlib.nullcontext():
        check = check_course(
            course.root,
            entries,
            seeds=args.seeds,
            run=runs,
            time_budget=args.time_budget,
            template=template_texts(course),
        )
    metas = {m.id: m for m in entries if isinstance(m, KataMeta)}
    for kata_id, found in check.katas.items():
        timing = f"  {found.seconds:.1f} s" if found.seconds is not None else ""
        diff = f"  solution: {'; '.join(found.diff)}" if found.diff else ""
        mark, style = ("✘", "red") if found.problems else ("✔", "green")
        out.print(f"{mark} {kata_id}{timing}{diff}", style=style, markup=False)
        for problem in found.problems:
            out.print(f"    {problem}", markup=False)
        if args.diff and kata_id in metas:
            text = unified_diff(metas[kata_id])
            if text:
                out.print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
    for day, found_in_day in check.days.items():
        if found_in_day:
            out.print(f"✘ {day}", style="red", markup=False)
            for problem in found_in_day:
                out.print(f"    {problem}", markup=False)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(check.to_dict(), indent=2) + "\n")
    ran = f", runs with seeds 0..{args.seeds - 1}" if runs else ""
    subjects = len(check.katas) + sum(bool(p) for p in check.days.values())
    if check.failed:
        err.print(
            f"kata: error: {check.failed} of {subjects} kata(s) and day(s) have problems "
            f"(listed above; metadata and files{ran}).",
            style="red",
            markup=False,
        )
        return 1
    out.print(f"All {len(check.katas)} kata(s) are valid (metadata and files{ran}).")
    return 0
