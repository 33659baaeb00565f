"""The learner's progress file: format, hints, atomic writes, recovery from a corrupt file."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest

import kata
from kata import ProgressWarning


def progress_file(root):
    return root / ".kata" / "progress.json"


def test_a_course_without_a_progress_file_starts_empty(tmp_path):
    progress = kata.load_progress(tmp_path)
    assert progress.status("day11/01_zero_grad") is None
    assert progress.hints_used("day11/01_zero_grad") == 0
    assert not progress_file(tmp_path).exists()


def test_marked_runs_are_saved_in_the_versioned_format(tmp_path):
    progress = kata.load_progress(tmp_path)
    when = datetime(2025, 1, 31, 10, 0, tzinfo=timezone.utc)
    progress.mark("day11/01_zero_grad", "solved", when=when)
    progress.mark("day11/02_lr", "failing", when=when)
    progress.save()
    assert json.loads(progress_file(tmp_path).read_text()) == {
        "version": 1,
        "katas": {
            "day11/01_zero_grad": {
                "status": "solved",
                "hints_used": 0,
                "last_run": "2025-01-31T10:00:00+00:00",
            },
            "day11/02_lr": {
                "status": "failing",
                "hints_used": 0,
                "last_run": "2025-01-31T10:00:00+00:00",
            },
        },
    }
    again = kata.load_progress(tmp_path)
    assert again.status("day11/01_zero_grad") == "solved"
    assert again.status("day11/02_lr") == "failing"


def test_each_hint_used_is_counted_up_to_three(tmp_path):
    progress = kata.load_progress(tmp_path)
    assert [progress.use_hint("day11/01_zero_grad") for _ in range(4)] == [1, 2, 3, 3]
    progress.save()
    assert kata.load_progress(tmp_path).hints_used("day11/01_zero_grad") == 3


def test_a_status_other_than_solved_or_failing_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'solved', 'failing'"):
        kata.load_progress(tmp_path).mark("day11/01_zero_grad", "passed")


def test_a_failed_write_leaves_the_previous_file_and_no_temporary_file(tmp_path, monkeypatch):
    progress = kata.load_progress(tmp_path)
    progress.mark("day11/01_zero_grad", "failing")
    progress.save()
    before = progress_file(tmp_path).read_text()

    def interrupted(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", interrupted)
    progress.mark("day11/01_zero_grad", "solved")
    with pytest.raises(OSError, match="disk full"):
        progress.save()
    assert progress_file(tmp_path).read_text() == before
    assert [p.name for p in progress_file(tmp_path).parent.iterdir()] == ["progress.json"]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"version": 7, "katas": {}}',
        '{"version": 1, "katas": {"day11/01_zero_grad": {"status": "won"}}}',
        '{"version": 1, "katas": {"day11/01_zero_grad": {"status": "solved", "hints_used": 9}}}',
        "[]",
    ],
)
def test_a_corrupt_file_is_reported_kept_aside_and_rebuilt(tmp_path, content):
    path = progress_file(tmp_path)
    path.parent.mkdir()
    path.write_text(content)
    with pytest.warns(ProgressWarning, match="could not be read"):
        progress = kata.load_progress(tmp_path)
    assert progress.problem is not None and str(path) in progress.problem
    assert progress.hints_used("day11/01_zero_grad") == 0
    assert path.with_name("progress.json.corrupt").read_text() == content
    assert json.loads(path.read_text()) == {"version": 1, "katas": {}}


def test_reading_without_repair_leaves_a_corrupt_file_alone(tmp_path):
    path = progress_file(tmp_path)
    path.parent.mkdir()
    path.write_text("{not json")
    progress = kata.load_progress(tmp_path, repair=False, warn=False)
    assert progress.problem is not None
    assert path.read_text() == "{not json"
    assert not path.with_name("progress.json.corrupt").exists()


def test_a_hint_asked_before_any_run_leaves_the_kata_not_tried(tmp_path):
    progress = kata.load_progress(tmp_path)
    progress.use_hint("day11/01_x")
    progress.save()
    again = kata.load_progress(tmp_path)
    assert again.status("day11/01_x") is None
    assert again.hints_used("day11/01_x") == 1
