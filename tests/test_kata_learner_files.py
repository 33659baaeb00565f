"""The learner's files through the ``kata`` command: odd states on disk, reset, relative names.

Runs the real command against a copy of the tiny fake course (tests/data/cli_course).
"""

from __future__ import annotations

import os
import stat

import pytest

from kata.course import progress as _progress
from tests.helpers import kata_command

FIT = "day01/01_fit_a_line"
GROW = "day01/02_steps_that_grow"
SYNTAX = "day01/03_loss_without_graph"


@pytest.fixture
def kata(capsys):
    """Run ``kata ARGS`` from the current folder; returns (exit code, stdout, stderr)."""

    return kata_command(capsys)


def test_an_unwritable_state_folder_still_shows_the_hint_and_warns_in_one_line(
    kata, course, monkeypatch
):
    monkeypatch.chdir(course)
    (course / ".kata").write_text("")  # a file where the folder should be: nobody can write it
    code, out, err = kata("hint", GROW)
    assert code == 0
    assert f"Hint 1 of 3 for {GROW}: What is in .grad" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kata: warning: The progress file ")
    assert "could not be written" in lines[0] and "Traceback" not in err


def test_list_after_reset_no_longer_shows_the_kata_as_solved(kata, course, monkeypatch):
    monkeypatch.chdir(course)
    progress = _progress.load(course)
    progress.mark(GROW, "solved")
    progress.use_hint(GROW)
    progress.save()
    (course / "katas" / GROW / "train.py").write_text("# my solution\n")
    assert kata("reset", GROW)[0] == 0
    _, out, _ = kata("list")
    assert "0 of 3 solved" in out
    after = _progress.load(course)
    assert after.status(GROW) is None
    assert after.hints_used(GROW) == 1  # seen is seen


def test_reset_keeps_the_learners_file_mode(kata, course, monkeypatch):
    monkeypatch.chdir(course)
    learner = course / "katas" / GROW / "train.py"
    learner.write_text("# mine\n")
    learner.chmod(0o644)
    assert kata("reset", GROW)[0] == 0
    assert stat.S_IMODE(learner.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("where", "name", "kata_id"),
    [
        (GROW, ".", GROW),
        (GROW, "./train.py", GROW),
        (GROW, "train.py", GROW),
        (FIT, "../03_loss_without_graph", SYNTAX),
        (FIT, "../02_steps_that_grow/train.py", GROW),
        ("", f"katas/{GROW}/", GROW),
    ],
)
def test_kata_names_may_be_paths_relative_to_the_current_folder(
    kata, course, monkeypatch, where, name, kata_id
):
    monkeypatch.chdir(course / "katas" / where if where else course)
    code, out, err = kata("hint", name)
    assert code == 0, err
    assert f"for {kata_id}:" in out
    assert _progress.load(course).hints_used(kata_id) == 1


def test_a_relative_path_that_is_no_kata_is_refused_in_one_line(kata, course, monkeypatch):
    monkeypatch.chdir(course / "katas")
    code, _, err = kata("hint", "./nowhere")
    assert code == 1
    assert "No kata named './nowhere'" in err


def test_umask_decides_the_mode_of_a_new_progress_file(kata, course, monkeypatch):
    monkeypatch.chdir(course)
    old = os.umask(0o027)
    try:
        assert kata("hint", GROW)[0] == 0
    finally:
        os.umask(old)
    mode = stat.S_IMODE((course / ".kata" / "progress.json").stat().st_mode)
    assert mode == 0o640


def test_reset_that_cannot_back_up_changes_nothing_and_says_why(kata, course, monkeypatch):
    monkeypatch.chdir(course)
    (course / ".kata").write_text("")
    learner = course / "katas" / GROW / "train.py"
    learner.write_text("# mine\n")
    code, _, err = kata("reset", GROW)
    assert code == 1
    assert f"kata: error: Cannot reset {GROW}: your files could not be backed up" in err
    assert "nothing was changed" in err and "Traceback" not in err
    assert learner.read_text() == "# mine\n"
