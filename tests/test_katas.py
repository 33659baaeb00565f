"""The course check: every kata under katas/ keeps the course contract (also run as a CI job).

The contract itself lives in kata/authoring/contract.py, the one implementation that
``kata validate`` uses too: for each kata and each seed 0..N-1 (``--course-seeds N``, default
1; CI runs 3, as ``kata validate`` does), as shipped its own asserts fail (the diagnosis gate
off), not through a typo, and diagnostics report exactly the codes its kata.toml declares; with
--kata-solution its tests pass with no error or warning finding; its solution changes no
constant beyond the fault; its runs stay within its time budget. Its metadata is complete, its
hints differ, its test file goes through the ``kata`` fixture, its folder holds no stray file,
its solution folder holds exactly the declared files, and its shipped copy is the kata as
shipped. Each day has its lesson (README.md).

The katas run once per test session, however many xdist workers share it: the first worker
to need the result computes it under a file lock and leaves it for the others.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kata import load_meta
from kata.atomic import locked, write_atomic
from kata.authoring.contract import CourseCheck, check_course
from kata.authoring.scaffold import template_texts
from kata.course.course import Course
from kata.course.meta import kata_dirs

REPO = Path(__file__).resolve().parents[1]

KATAS = [pytest.param(d, id=f"{d.parent.name}/{d.name}") for d in kata_dirs(REPO)] or [
    pytest.param(None, marks=pytest.mark.skip(reason="there is no kata under katas/dayNN/ yet"))
]
DAYS = sorted({d.parent.name for d in kata_dirs(REPO)})


def _check(seeds: int) -> CourseCheck:
    course = Course(REPO)
    return check_course(course.root, course.entries(), seeds=seeds, template=template_texts(course))


@pytest.fixture(scope="session")
def seeds(pytestconfig: pytest.Config) -> int:
    return max(1, pytestconfig.getoption("--course-seeds"))


@pytest.fixture(scope="session")
def course_check(tmp_path_factory: pytest.TempPathFactory, seeds: int) -> CourseCheck:
    """The contract's findings over the whole course, computed once per session."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return _check(seeds)
    folder = tmp_path_factory.getbasetemp().parent / "course-check"  # the session's, own lock
    folder.mkdir(exist_ok=True)
    shared = folder / f"seeds-{seeds}.json"
    with locked(shared):
        if shared.is_file():
            return CourseCheck.from_dict(json.loads(shared.read_text(encoding="utf-8")))
        check = _check(seeds)
        write_atomic(shared, json.dumps(check.to_dict()))
        return check


@pytest.mark.parametrize("kata_dir", KATAS)
def test_the_kata_metadata_is_complete(kata_dir):
    load_meta(kata_dir)  # raises KataMetaError naming the file and the field


@pytest.mark.parametrize("kata_dir", KATAS)
def test_the_kata_keeps_the_course_contract(course_check, seeds, kata_dir):
    kata_id = f"{kata_dir.parent.name}/{kata_dir.name}"
    found = course_check.katas[kata_id]
    assert not found.problems, (
        f"{kata_id} breaks the course contract (seeds 0..{seeds - 1}):\n  "
        + "\n  ".join(found.problems)
        + "\n'kata validate "
        + kata_id
        + "' shows the same; 'kata ship' after changing a kata's files."
    )


@pytest.mark.parametrize("day", DAYS)
def test_each_day_has_its_lesson(course_check, day):
    problems = course_check.days.get(day, [])
    assert not problems, "\n".join(problems)
