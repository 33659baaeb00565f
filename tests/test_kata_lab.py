"""kata lab: a working loop to break, challenges, predictions checked by the diagnostics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from diagnostics import CATALOGUE
from kata.cli.lab import LABS
from tests.helpers import kata_command

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course holding the labs' working loops (katas/ only needs to exist)."""
    root = tmp_path / "course"
    (root / "katas").mkdir(parents=True)
    for lab in LABS.values():
        target = root / lab.base
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / lab.base, target)
    return root


@pytest.fixture
def kata(course, capsys):
    return kata_command(capsys, root=course)


def test_every_challenge_names_real_finding_codes_and_every_base_loop_exists():
    for lab in LABS.values():
        assert (REPO / lab.base).is_file(), lab.base
        assert len(lab.challenges) >= 3
        for challenge in lab.challenges:
            assert challenge.codes and set(challenge.codes) <= set(CATALOGUE), challenge


def test_lab_copies_the_working_loop_and_lists_the_challenges(kata, course):
    code, out, _ = kata("lab", "11")
    assert code == 0
    copy = course / "lab" / "day11" / "train.py"
    assert copy.read_text() == (course / LABS[11].base).read_text()
    assert "0 of 5 challenges completed" in out
    assert "1. Make the learning rate collapse in the first epoch." in out
    assert "kata lab check 11 --expect CODE" in out


def test_lab_never_overwrites_the_learners_copy_and_reset_backs_it_up(kata, course):
    kata("lab", "day12")
    copy = course / "lab" / "day12" / "train.py"
    copy.write_text(copy.read_text() + "\n# my break\n")
    code, out, _ = kata("lab", "12")
    assert code == 0 and copy.read_text().endswith("# my break\n")
    assert "Your lab copy is lab/day12/train.py" in out
    code, out, _ = kata("lab", "12", "--reset")
    assert code == 0 and "# my break" not in copy.read_text()
    backups = list((course / ".kata" / "backups" / "lab-day12").rglob("train.py"))
    assert len(backups) == 1 and backups[0].read_text().endswith("# my break\n")


def test_a_broken_loop_with_the_right_prediction_completes_the_challenge(kata, course):
    kata("lab", "11")
    copy = course / "lab" / "day11" / "train.py"
    source = copy.read_text()
    per_epoch, per_batch = "\n        scheduler.step()\n", "\n            scheduler.step()\n"
    assert source.count(per_epoch) == 1
    copy.write_text(source.replace(per_epoch, per_batch))  # the break: stepped per batch
    code, out, _ = kata("lab", "check", "11", "--expect", "scheduler-per-batch")
    assert code == 0, out
    assert "Reported: scheduler-per-batch" in out
    assert "Your prediction scheduler-per-batch was reported" in out
    assert "Challenge 1 (Make the learning rate collapse in the first epoch.) completed" in out
    state = json.loads((course / ".kata" / "lab.json").read_text())
    assert state["labs"]["day11"]["completed"] == [1]
    _, listing, _ = kata("lab", "11")
    assert "1 of 5 challenges completed" in listing and "✔ 1." in listing


def test_an_unbroken_loop_meets_no_prediction_and_fails(kata, course):
    kata("lab", "12")
    code, out, _ = kata("lab", "check", "--expect", "state-dict-alias")  # the one lab started
    assert code == 1
    assert "Reported: nothing" in out
    assert "Your prediction state-dict-alias was not reported" in out
    assert "No challenge of the lab was met" in out
    state = json.loads((course / ".kata" / "lab.json").read_text())
    assert state["labs"]["day12"] == {"checks": 1, "completed": []}


def test_check_needs_a_prediction_a_known_code_and_a_copy(kata):
    code, _, err = kata("lab", "check", "11", "--expect", "scheduler-per-bach")
    assert code == 1 and "Did you mean 'scheduler-per-batch'?" in err
    code, _, err = kata("lab", "check", "11")
    assert code == 1 and "Say which finding you expect" in err
    code, _, err = kata("lab", "check", "11", "--expect", "grad-accumulation")
    assert code == 1 and "run 'kata lab 11' first" in err


def test_an_unknown_day_suggests_the_closest_lab(kata):
    code, _, err = kata("lab", "day13")
    assert code == 1 and "No lab for 'day13'" in err and "Did you mean" in err
    code, _, err = kata("lab")
    assert code == 1 and "Which day's lab?" in err
