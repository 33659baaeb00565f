"""Levels and kinds: kata.toml's ``level`` and ``kind``, the ramp of each day, ``kata list``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import kata
from kata import KataMetaError
from kata.authoring.contract import static_problems
from kata.cli import main
from kata.course.course import Course
from kata.course.meta import KataMeta, discover
from tests.helpers import copy_course
from tests.test_kata_meta import error_of, write_kata

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "cli_course"


# -- the schema ----------------------------------------------------------------------------------
def test_level_and_kind_load_and_default_to_unset_and_fix(tmp_path):
    plain = kata.load_meta(write_kata(tmp_path, "day11/01_zero_grad"))
    assert (plain.level, plain.kind) == (None, "fix")
    built = kata.load_meta(
        write_kata(tmp_path, "day11/02_sgd", level="basic", kind="build", codes=[])
    )
    assert (built.level, built.kind) == ("basic", "build")


def test_a_misspelt_level_names_the_field_and_suggests_the_closest(tmp_path):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", level="advnced"))
    assert error.field == "level"
    assert "'basic', 'intermediate', 'advanced'" in error.message
    assert "Did you mean 'advanced'?" in error.message


def test_a_level_that_is_not_text_is_rejected(tmp_path):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", level=2))
    assert error.field == "level" and "got 2" in error.message


def test_an_unknown_kind_is_rejected(tmp_path):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", kind="bild"))
    assert error.field == "kind" and "Did you mean 'build'?" in error.message


def test_a_build_kata_that_declares_codes_is_told_to_write_an_empty_list(tmp_path):
    folder = write_kata(tmp_path, "day11/01_sgd", kind="build", codes=["grad-accumulation"])
    error = error_of(folder)
    assert error.field == "codes" and "codes = []" in error.message


def test_a_fix_kata_may_declare_no_codes(tmp_path):
    meta = kata.load_meta(write_kata(tmp_path, "day11/01_curve", codes=[]))
    assert meta.kind == "fix" and meta.codes == ()


def test_the_contract_requires_a_level(tmp_path):
    meta = kata.load_meta(write_kata(tmp_path, "day11/01_zero_grad"))
    problems = static_problems(meta, template={})
    assert any("field 'level': missing" in p for p in problems), problems
    leveled = kata.load_meta(write_kata(tmp_path, "day11/02_zero_grad", level="basic"))
    assert not any("'level'" in p for p in static_problems(leveled, template={}))


def test_a_build_solutions_new_constants_are_not_flagged_but_a_fix_solutions_are(tmp_path):
    for kind, number in (("build", 1), ("fix", 2)):
        folder = write_kata(tmp_path, f"day11/0{number}_k", level="basic", kind=kind, codes=[])
        (folder / "train.py").write_text("def step(p, lr=0.1):\n    raise NotImplementedError\n")
        solution = tmp_path / "solutions" / "day11" / folder.name
        (solution / "shipped").mkdir(parents=True)
        (solution / "train.py").write_text("def step(p, lr=0.5):\n    return p * lr\n")
        for name in ("train.py", "kata.toml", "test_kata.py"):
            shutil.copy(folder / name, solution / "shipped" / name)
    problems = {
        kind: static_problems(kata.load_meta(tmp_path / "katas" / "day11" / name), template={})
        for kind, name in (("build", "01_k"), ("fix", "02_k"))
    }
    assert not any("constant" in p for p in problems["build"]), problems["build"]
    assert any("constant" in p for p in problems["fix"]), problems["fix"]


# -- the ramp ------------------------------------------------------------------------------------
def _with_levels(tmp_path: Path, levels: dict[str, str]) -> Path:
    root = copy_course(DATA, tmp_path / "course")
    for name, level in levels.items():
        toml = root / "katas" / "day01" / name / "kata.toml"
        text = re.sub(r'(?m)^level = ".*"$', f'level = "{level}"', toml.read_text())
        toml.write_text(text)
    return root


def test_the_course_order_ramps_from_basic_to_advanced_within_a_day(tmp_path):
    root = _with_levels(
        tmp_path,
        {
            "01_fit_a_line": "advanced",
            "02_steps_that_grow": "basic",
            "03_loss_without_graph": "intermediate",
        },
    )
    order = [m.name for m in Course.locate(root).katas()]
    assert order == ["02_steps_that_grow", "03_loss_without_graph", "01_fit_a_line"]


def test_list_shows_each_katas_level_in_ramp_order_and_names_the_first_as_next(tmp_path, capsys):
    root = _with_levels(
        tmp_path,
        {
            "01_fit_a_line": "advanced",
            "02_steps_that_grow": "basic",
            "03_loss_without_graph": "basic",
        },
    )
    assert main(["list", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "day01/0" in line and "not tried" in line]
    assert [re.search(r"day01/0\d", r).group(0) for r in rows] == [  # type: ignore[union-attr]
        "day01/02",
        "day01/03",
        "day01/01",
    ]
    assert re.search(r"day01/02_steps_that_grow\s+basic", out)
    assert re.search(r"day01/01_fit_a_line\s+advanced", out)
    assert "Next: kata check day01/02_steps_that_grow" in out


def test_katas_of_one_level_keep_their_order_by_number(tmp_path):
    root = _with_levels(tmp_path, {})
    order = [m.name for m in Course.locate(root).katas()]
    assert order == ["01_fit_a_line", "02_steps_that_grow", "03_loss_without_graph"]


# -- the course itself ---------------------------------------------------------------------------
def _course_katas() -> list[KataMeta]:
    return discover(REPO)


@pytest.mark.parametrize("day", [11, 12])
def test_every_day_of_the_course_has_at_least_two_katas_of_each_level(day):
    metas = [m for m in _course_katas() if m.day == day]
    assert all(m.level is not None for m in metas), [m.id for m in metas if m.level is None]
    for level in ("basic", "intermediate", "advanced"):
        count = sum(m.level == level for m in metas)
        assert count >= 2, f"day{day} has {count} {level} kata(s); the ramp needs two or more."


def test_every_build_kata_of_the_course_is_basic_and_declares_no_codes():
    builds = [m for m in _course_katas() if m.kind == "build"]
    for meta in builds:
        assert meta.level == "basic" and meta.codes == (), meta.id


def test_a_kata_toml_with_a_bad_level_is_a_meta_error_not_a_crash(tmp_path):
    folder = write_kata(tmp_path, "day11/01_zero_grad", level="expert")
    with pytest.raises(KataMetaError):
        kata.load_meta(folder)
