"""kata mystery: a hidden, verified fault in a clean loop, checked blind, then revealed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from kata.cli import main
from tests.helpers import kata_command

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mystery") / "course"
    root.mkdir()
    for name in ("katas", "solutions"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def course(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(pristine, root)
    return root


@pytest.fixture
def kata(course, capsys):
    return kata_command(capsys, root=course)


def _state(course: Path) -> dict:
    return json.loads((course / ".kata" / "mystery.json").read_text())


def test_a_mystery_is_a_solution_with_one_verified_fault_checked_blind(kata, course):
    code, out, _ = kata("mystery", "--day", "12", "--seed", "3")
    assert code == 0, out
    current = _state(course)["current"]
    mystery = course / "mystery" / "train.py"
    assert mystery.read_text() == current["broken"] != current["fixed"]
    kata_id = current["kata"]
    assert kata_id.startswith("day12/")
    assert current["fixed"] == (course / "solutions" / kata_id / "train.py").read_text()
    assert current["code"] not in out and kata_id not in out  # nothing given away

    code, out, _ = kata("mystery", "check")
    assert code == 1 and "Still broken" in out
    assert current["code"] not in out  # blind

    mystery.write_text(current["fixed"])
    code, out, _ = kata("mystery", "check")
    assert code == 0 and "Solved" in out
    assert f"({current['code']})" in out and kata_id in out and "-" in out
    state = _state(course)
    assert state["current"] is None
    assert state["rounds"][-1]["outcome"] == "solved" and state["rounds"][-1]["checks"] == 2


def test_a_script_that_runs_clean_but_no_longer_learns_is_not_solved(kata, course):
    # Silencing the diagnostics is not a fix: the tests of the kata the round was drawn from
    # must pass too. A rate 10 000 times too small trains without a finding, and learns nothing.
    kata("mystery", "--day", "12", "--seed", "3")
    current = _state(course)["current"]
    untrained, count = re.subn(
        r"\blr=([0-9.e-]+)", lambda m: f"lr={float(m[1]) * 1e-4:g}", current["fixed"]
    )
    assert count, "the drawn solution sets no lr=...: pick another --seed for this test"
    (course / "mystery" / "train.py").write_text(untrained)
    # Nor does editing the kata's test file in the learner's copy: the shipped one is run.
    (course / "katas" / current["kata"] / "test_kata.py").write_text("def test_ok():\n    pass\n")
    code, out, _ = kata("mystery", "check")
    assert code == 1 and "Still broken" in out and "kata's own tests fail" in out, out
    assert current["code"] not in out  # still blind
    assert _state(course)["current"] is not None  # the round goes on


def test_a_script_that_ends_the_process_is_not_solved_and_the_command_goes_on(kata, course):
    kata("mystery", "--day", "12", "--seed", "3")
    current = _state(course)["current"]
    (course / "mystery" / "train.py").write_text("import os\nos._exit(0)\n" + current["fixed"])
    code, out, _ = kata("mystery", "check")
    assert code == 1 and "Still broken" in out and "os._exit(0)" in out, out
    assert _state(course)["current"]["checks"] == 1


def test_reveal_gives_up_shows_the_fault_and_records_it(kata, course):
    kata("mystery", "--day", "11", "--seed", "0")
    current = _state(course)["current"]
    code, _, err = kata("mystery", "--day", "11")
    assert code == 1 and "in progress" in err
    code, out, _ = kata("mystery", "reveal")
    assert code == 1 and f"({current['code']})" in out
    assert _state(course)["rounds"][-1]["outcome"] == "revealed"
    code, _, err = kata("mystery", "check")
    assert code == 1 and "No mystery in progress" in err


def test_an_unknown_action_suggests_the_closest(kata):
    code, _, err = kata("mystery", "reveel")
    assert code == 1 and "Did you mean 'reveal'?" in err


@pytest.mark.parametrize("command", ["lab", "mystery"])
def test_the_lab_and_mystery_commands_have_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert f"usage: kata {command}" in capsys.readouterr().out
