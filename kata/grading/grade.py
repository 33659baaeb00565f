"""``kata grade``: the course's own tests run against a learner's files, for an instructor.

Nothing the learner controls decides the grade. Each kata is copied into a scratch course
made of the course's shipped ``test_kata.py`` and ``kata.toml`` (the copies ``kata ship``
records under ``solutions/dayNN/NN_slug/shipped/``) and the learner's own files, then run in a
fresh process with its time budget: no conftest.py, pytest configuration or edited test of
the learner's takes part. The report is documented in docs/kata-report.md and described by
docs/kata-grade.schema.json; bump ``GRADE_VERSION`` on any change that is not an added field.
"""

from __future__ import annotations

import ast
import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kata.course import meta as _meta
from kata.course import progress as _progress
from kata.course import shipped as _shipped
from kata.course.course import CommandError, Course
from kata.course.meta import META_FILE, TEST_FILE
from kata.running.runner import Runner, pytest_args
from kata.running.verdict import SOLVED, TIMED_OUT, judge

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["GRADE_FORMAT", "GRADE_VERSION", "STATUSES", "Graded", "grade_katas", "select"]

GRADE_FORMAT = "torch-katas grade report"
GRADE_VERSION = 1
NOT_ATTEMPTED, TAMPERED, FAILING = "not attempted", "tampered", "failing"
STATUSES = (SOLVED, FAILING, NOT_ATTEMPTED, TIMED_OUT, TAMPERED)

_DAY_ARG = re.compile(r"(?:day)?0*(\d{1,3})")
_NO_RECORD = (
    "{kata}: the course keeps no shipped copy of its {files} ({where}), so it cannot be "
    "graded with the course's own tests. The course author records them with 'kata ship'."
)


@dataclass
class Graded:
    """One kata's grade."""

    id: str
    day: str
    title: str
    status: str
    passed: bool  # the course's tests all passed (a tampered kata may pass them)
    tests: list[dict[str, Any]] = field(default_factory=list)  # name, status, message
    codes: list[str] = field(default_factory=list)
    hints_used: int = 0
    modified: list[str] = field(default_factory=list)
    problem: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "title": self.title,
            "status": self.status,
            "passed": self.passed,
            "tests": self.tests,
            "codes": self.codes,
            "hints_used": {"count": self.hints_used, "self_reported": True},
            "modified": self.modified,
            "problem": self.problem,
            "seconds": round(self.seconds, 3),
        }


# -- what to grade --------------------------------------------------------------------------------
def select(course: Course, names: Sequence[str]) -> list[Path]:
    """The kata folders named (katas or days), or every kata; in course order. A kata whose
    kata.toml the learner broke is still selected: it is graded with the shipped one."""
    every = _every_kata(course)
    if not names:
        return every
    chosen: list[Path] = []
    for name in names:
        day = _DAY_ARG.fullmatch(name.strip().lower())
        if day and "/" not in name:
            found = [d for d in every if _day_number(d) == int(day.group(1))]
            if not found:
                course.day(name)  # raises "No day ..." with a suggestion
            chosen += found
        else:
            chosen.append(_kata_dir(course, name))
    order = {d: i for i, d in enumerate(every)}
    return sorted(set(chosen), key=lambda d: order.get(d, len(order)))


def _every_kata(course: Course) -> list[Path]:
    """Every kata of the course: those in katas/, and those the course ships whose folder or
    kata.toml the learner deleted (graded too: deleting a kata must not drop it)."""
    found = _meta.kata_dirs(course.root)
    for record in sorted((course.root / "solutions").glob(f"day*/*/{_shipped.SHIPPED_DIR}")):
        kata_dir = course.katas_dir / record.parent.parent.name / record.parent.name
        if (record / META_FILE).is_file() and kata_dir not in found:
            found.append(kata_dir)
    return sorted(found, key=lambda d: (_day_number(d) or 0, d.parent.name, d.name))


def _day_number(kata_dir: Path) -> int | None:
    match = re.fullmatch(r"day(\d+)", kata_dir.parent.name)
    return int(match.group(1)) if match else None


def _kata_dir(course: Course, name: str) -> Path:
    try:
        return course.find(name).dir
    except _meta.KataMetaError as exc:
        if exc.path.name == META_FILE:
            return exc.path.parent
        raise


def course_revision(course: Course) -> str:
    """A hash of every kata's shipped files: two reports with the same revision were graded
    against the same course."""
    digest = hashlib.sha256()
    for kata_dir in _meta.kata_dirs(course.root):
        shipped = _shipped.shipped_dir_of(kata_dir)
        files = sorted(p for p in shipped.iterdir() if p.is_file()) if shipped.is_dir() else []
        for path in files:
            name = f"{kata_dir.parent.name}/{kata_dir.name}/{path.name}"
            digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()


# -- grading ------------------------------------------------------------------------------------
def grade_katas(
    course: Course,
    kata_dirs: Sequence[Path],
    *,
    runner: Runner,
    seed: int = 0,
    timeout: float | None = None,
    on_graded: Callable[[Graded], None] | None = None,
) -> list[Graded]:
    """Grade each kata in a fresh process; ``on_graded`` hears of each as it is done."""
    for kata_dir in kata_dirs:  # every record is checked before the first run
        _check_record(kata_dir)
    progress = _progress.load(course.root, repair=False, warn=False)
    graded = []
    with tempfile.TemporaryDirectory(prefix="kata-grade-") as tmp:
        for kata_dir in kata_dirs:
            result = _grade_one(kata_dir, Path(tmp), runner, seed=seed, timeout=timeout)
            result.hints_used = progress.hints_used(result.id)
            graded.append(result)
            if on_graded is not None:
                on_graded(result)
    return graded


def _check_record(kata_dir: Path) -> None:
    shipped = _shipped.shipped_dir_of(kata_dir)
    missing = [name for name in _shipped.COURSE_FILES if not (shipped / name).is_file()]
    if missing:
        raise CommandError(
            _NO_RECORD.format(
                kata=f"{kata_dir.parent.name}/{kata_dir.name}",
                files=" and ".join(missing),
                where=shipped,
            )
        )


def _grade_one(
    kata_dir: Path, tmp: Path, runner: Runner, *, seed: int, timeout: float | None
) -> Graded:
    kata_id = f"{kata_dir.parent.name}/{kata_dir.name}"
    shipped = _shipped.shipped_dir_of(kata_dir)
    data = tomllib.loads((shipped / META_FILE).read_text(encoding="utf-8"))
    files = [str(name) for name in data.get("files", [])]
    names = _test_names(shipped / TEST_FILE)
    graded = Graded(
        kata_id, kata_dir.parent.name, str(data.get("title", "")), FAILING, passed=False
    )
    graded.modified = _shipped.modified(kata_dir)
    missing = [name for name in files if not (kata_dir / name).is_file()]
    if missing:
        graded.problem = f"your {_are(missing)} missing from {kata_dir}."
        graded.tests = _not_run(names, graded.problem)
        return _final(graded)
    if not graded.modified and all(_same(kata_dir / n, shipped / n) for n in files):
        graded.status = NOT_ATTEMPTED
        graded.problem = f"your {_are(files)} as shipped: the kata was not attempted."
        graded.tests = _not_run(names, graded.problem)
        return graded
    # A scratch course: the shipped tests and kata.toml, the learner's files, nothing else.
    root = tmp / kata_id.replace("/", "_")
    scratch = root / "katas" / kata_dir.parent.name / kata_dir.name
    scratch.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # not the learner's
    for name in _shipped.COURSE_FILES:
        shutil.copyfile(shipped / name, scratch / name)
    for name in files:
        shutil.copyfile(kata_dir / name, scratch / name)
    try:
        meta = _meta.load(scratch)
    except _meta.KataMetaError as exc:  # the course's own record is broken
        raise CommandError(f"{kata_id}: the shipped kata.toml does not load: {exc}") from None
    args = pytest_args([scratch], root=root, seed=seed, record_progress=False, timeout=timeout)
    budget = timeout if timeout is not None else meta.timeout
    result = runner.run(args, report=True, timeout=budget, learner_dirs=[scratch], cwd=root)
    verdict = judge(meta, result)
    graded.seconds = result.seconds
    entry = result.katas.get(meta.id)
    if entry is None:
        graded.problem = verdict.reason
        graded.tests = _not_run(names, verdict.reason or "the test run ended early.", "error")
    else:
        messages = entry.get("messages", {})
        graded.tests = [
            {"name": name, "status": outcome, "message": _clean(messages.get(name), scratch)}
            for name, outcome in entry["tests"].items()
        ]
        graded.codes = list(entry.get("codes", []))
        graded.problem = verdict.reason
        if verdict.status == TIMED_OUT and not graded.problem:  # its test's message says where
            graded.problem = next((t["message"] for t in graded.tests if t["message"]), None)
    graded.passed = verdict.solved
    graded.status = verdict.status
    return _final(graded)


def _final(graded: Graded) -> Graded:
    if graded.modified:
        graded.status = TAMPERED
        changed = _are(graded.modified, "differs", "differ")
        note = f"the learner's {changed} from the course's; graded with the course's tests."
        graded.problem = f"{note} {graded.problem}" if graded.problem else note
    return graded


def _are(names: Sequence[str], one: str = "is", many: str = "are") -> str:
    return " and ".join(names) + " " + (one if len(names) == 1 else many)


def _clean(message: str | None, scratch: Path) -> str | None:
    """A message without the scratch course's paths."""
    return message.replace(f"{scratch}/", "") if message else message


def _not_run(names: list[str], message: str, status: str = "not run") -> list[dict[str, Any]]:
    return [{"name": name, "status": status, "message": message} for name in names]


def _test_names(path: Path) -> list[str]:
    """The test functions a test file defines at its top level, in order."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []
    return [
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test")
    ]


def _same(path: Path, copy: Path) -> bool:
    try:
        return path.read_bytes() == copy.read_bytes()
    except OSError:
        return False


# -- the reports ----------------------------------------------------------------------------------
def report(
    graded: Sequence[Graded], *, learner: str, revision: str, seed: int, timeout: float | None
) -> dict[str, Any]:
    """The grade report (docs/kata-report.md, docs/kata-grade.schema.json)."""
    import torch

    return {
        "format": GRADE_FORMAT,
        "version": GRADE_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "learner": learner,
        "course": {"revision": revision},
        "seed": seed,
        "timeout": timeout,
        "torch": torch.__version__,
        "graded": len(graded),
        "solved": sum(g.status == SOLVED for g in graded),
        "katas": {g.id: g.to_dict() for g in graded},
    }


_EXERCISM_STATUS = {"passed": "pass", "failed": "fail", "error": "error"}


def exercism(graded: Sequence[Graded]) -> dict[str, Any]:
    """An Exercism test-runner ``results.json`` (version 2): one test per kata test."""
    tests = []
    for g in graded:
        for test in g.tests:
            status = _EXERCISM_STATUS.get(test["status"], "fail")
            message = test["message"]
            if g.status in (TAMPERED, NOT_ATTEMPTED) and status == "pass":
                status, message = "fail", g.problem
            elif g.status in (TAMPERED, NOT_ATTEMPTED, TIMED_OUT) and not message:
                message = g.problem
            tests.append(
                {
                    "name": f"{g.id}: {test['name']}",
                    "status": status,
                    "message": None if status == "pass" else message,
                }
            )
    every = all(g.status == SOLVED for g in graded) and bool(graded)
    return {
        "version": 2,
        "status": "pass" if every else "fail",
        "message": None,
        "tests": tests,
    }
