"""The course author's commands: new, break, validate, ship."""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import _shipped
from ._break import OPERATORS, break_source
from ._course import CommandError, Course
from ._meta import META_FILE, TEST_FILE, KataMeta, KataMetaError
from ._runner import Runner, RunResult, pytest_args
from ._scaffold import TEMPLATE_DIR, scaffold, template_texts

_DAY_ARG = re.compile(r"(?:day)?(\d{1,2})")
_KATA_EXTRAS = frozenset({META_FILE, TEST_FILE, "README.md"})


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
    """The katas named (kata names or days), or every kata; in course order."""
    if not names:
        return course.entries()
    chosen: dict[str, KataMeta] = {}
    for name in names:
        day = _DAY_ARG.fullmatch(name.strip().lower())
        if day and "/" not in name:
            number = course.day(name)
            chosen.update({m.id: m for m in course.katas() if m.day == number})
        else:
            meta = course.find(name)
            chosen[meta.id] = meta
    order = {m.id: i for i, m in enumerate(course.katas())}
    return sorted(chosen.values(), key=lambda meta: order.get(meta.id, 0))


# -- kata validate --------------------------------------------------------------------------------
def run_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    course = Course.locate(args.root)
    if args.seeds < 1:
        raise CommandError(f"--seeds must be at least 1, not {args.seeds}.")
    entries = _select(course, args.katas)
    if not entries:
        raise CommandError(f"No katas to validate in {course.katas_dir}.")
    problems: dict[str, list[str]] = {}
    metas: list[KataMeta] = []
    for entry in entries:
        if isinstance(entry, KataMetaError):
            problems[f"{entry.path.parent.parent.name}/{entry.path.parent.name}"] = [str(entry)]
            continue
        metas.append(entry)
        problems[entry.id] = _static_problems(course, entry)
    runnable = metas  # every kata that loads runs: a stale copy is no reason to skip it
    if runnable and not args.no_run:
        with out.status(
            f"Running {len(runnable)} kata(s), broken and solved, seeds 0..{args.seeds - 1}..."
        ):
            for meta, found in _run_problems(course, runnable, args.seeds).items():
                problems[meta.id].extend(found)
    failed = 0
    for kata_id, found in problems.items():
        if found:
            failed += 1
            out.print(f"✘ {kata_id}", style="red")
            for problem in found:
                out.print(f"    {problem}", markup=False)
        else:
            out.print(f"✔ {kata_id}", style="green")
    ran = "" if args.no_run else f", runs with seeds 0..{args.seeds - 1}"
    if failed:
        err.print(
            f"kata: error: {failed} of {len(problems)} kata(s) have problems (listed "
            f"above; metadata and files{ran}).",
            style="red",
            markup=False,
        )
        return 1
    out.print(f"All {len(problems)} kata(s) are valid (metadata and files{ran}).")
    return 0


def _static_problems(course: Course, meta: KataMeta) -> list[str]:
    """What is wrong with a kata's files and texts, without running it."""
    found = []
    template = template_texts(course)
    for field, value in _texts(meta).items():
        if template.get(field) == value:
            found.append(
                f"{meta.meta_path}: field {field!r}: still the template's text "
                f"({TEMPLATE_DIR}); write this kata's own."
            )
    if not (meta.dir / TEST_FILE).is_file():
        found.append(f"{meta.dir / TEST_FILE}: missing; a kata needs its tests.")
    for name in meta.files:
        solution = meta.solution_dir / name
        if not solution.is_file():
            found.append(f"{solution}: missing (field 'files' of {meta.meta_path} lists {name!r}).")
        elif solution.read_bytes() == (meta.dir / name).read_bytes():
            found.append(
                f"{meta.dir / name}: identical to its solution {solution}; the kata has no fault."
            )
    allowed = _KATA_EXTRAS | set(meta.files)
    for path in sorted(meta.dir.iterdir()):
        if path.name not in allowed and not path.name.startswith((".", "__pycache__")):
            found.append(
                f"{path}: stray file; list it in field 'files' of {meta.meta_path}, or remove it."
            )
    found.extend(_shipped.differences(meta))
    return found


def _texts(meta: KataMeta) -> dict[str, str]:
    texts = {"title": meta.title, "concept": meta.concept}
    texts.update({f"hints[{i}]": h for i, h in enumerate(meta.hints)})
    texts["interview.question"] = meta.interview_question
    texts["interview.answer"] = meta.interview_answer
    return texts


def _run_problems(course: Course, metas: list[KataMeta], seeds: int) -> dict[KataMeta, list[str]]:
    """Run every kata broken and solved for each seed; the broken/solved contract's breaches."""
    found: dict[KataMeta, list[str]] = {m: [] for m in metas}
    runner = Runner(echo=lambda text: None)  # the verdicts come from the JSON reports
    runner.warm()
    dirs = [m.dir for m in metas]
    for seed in range(seeds):
        for_seed = functools.partial(
            pytest_args, dirs, root=course.root, seed=seed, record_progress=False
        )
        broken = runner.run(for_seed(), report=True)
        solved = runner.run(for_seed(solution=True), report=True)
        for meta in metas:
            found[meta].extend(_contract(meta, seed, broken, solved))
    return found


def _contract(meta: KataMeta, seed: int, broken: RunResult, solved: RunResult) -> list[str]:
    found = []
    rerun = f"pytest {meta.dir} --kata-seed {seed}"
    entry = broken.katas.get(meta.id)
    if entry is None:
        found.append(f"{meta.dir}: its tests did not run with seed {seed} ({rerun}).")
    elif entry["status"] == "solved":
        found.append(
            f"{meta.dir}: passes as shipped with seed {seed}; the broken files must fail "
            f"their tests ({rerun})."
        )
    elif sorted(entry["codes"]) != sorted(meta.codes):
        found.append(
            f"{meta.meta_path}: field 'codes': declares {sorted(meta.codes)}, but the broken "
            f"run with seed {seed} reports {sorted(entry['codes'])} ({rerun})."
        )
    entry = solved.katas.get(meta.id)
    if entry is None or entry["status"] != "solved":
        tests = ", ".join(t for t, o in (entry or {}).get("tests", {}).items() if o != "passed")
        why = f" (failing: {tests})" if tests else ""
        codes = (entry or {}).get("codes") or []
        findings = f"; findings: {', '.join(codes)}" if codes else ""
        found.append(
            f"{meta.solution_dir}: the solution does not pass with seed {seed}{why}{findings} "
            f"({rerun} --kata-solution)."
        )
    return found
