"""The learner's progress file: format, hints, atomic and locked writes, odd states on disk."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timezone

import pytest

import kata
from kata import ProgressSaveError, ProgressWarning
from kata.course import progress as _progress


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


# -- concurrency and odd states ------------------------------------------------------------------
_WRITER = """
import sys
import kata

root, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    progress = kata.load_progress(root)
    progress.mark(f"day{worker}/{i:02d}_kata", "solved")
    progress.use_hint("day01/01_shared")
    progress.save()
"""


def test_several_commands_writing_at_once_lose_nothing(tmp_path):
    workers, count = 4, 10
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), str(w), str(count)])
        for w in range(workers)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * workers
    progress = kata.load_progress(tmp_path)
    solved = [k for k in progress.katas if progress.status(k) == "solved"]
    assert len(solved) == workers * count
    assert progress.hints_used("day01/01_shared") == 3  # 40 hints asked, three to see


def test_a_save_keeps_what_another_command_saved_since_this_one_loaded(tmp_path):
    mine, theirs = kata.load_progress(tmp_path), kata.load_progress(tmp_path)
    theirs.mark("day11/02_lr", "failing")
    theirs.use_hint("day11/01_zero_grad")
    theirs.save()
    mine.use_hint("day11/01_zero_grad")
    mine.save()
    again = kata.load_progress(tmp_path)
    assert again.status("day11/02_lr") == "failing"
    assert again.hints_used("day11/01_zero_grad") == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [("[" * 200_000 + "]" * 200_000, "nested too deeply"), ("x" * 64, "bytes")],
)
def test_a_deeply_nested_or_huge_file_is_corrupt_not_a_crash(
    tmp_path, monkeypatch, content, reason
):
    monkeypatch.setattr(_progress, "MAX_BYTES", 32)  # the huge case without writing megabytes
    if reason != "bytes":
        monkeypatch.setattr(_progress, "MAX_BYTES", 10**7)
    path = progress_file(tmp_path)
    path.parent.mkdir()
    path.write_text(content)
    with pytest.warns(ProgressWarning, match=reason):
        progress = kata.load_progress(tmp_path)
    assert progress.katas == {}
    assert path.with_name("progress.json.corrupt").read_text() == content


def test_a_save_keeps_the_files_mode(tmp_path):
    progress = kata.load_progress(tmp_path)
    progress.mark("day11/01_zero_grad", "failing")
    progress.save()
    path = progress_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()  # a new file: the umask's
    path.chmod(0o640)
    progress.mark("day11/01_zero_grad", "solved")
    progress.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_an_unwritable_state_folder_is_one_clear_error(tmp_path):
    (tmp_path / ".kata").write_text("not a folder")  # an odd state that even root cannot write
    progress = kata.load_progress(tmp_path)
    progress.use_hint("day11/01_zero_grad")
    with pytest.raises(ProgressSaveError) as caught:
        progress.save()
    message = str(caught.value)
    assert message.startswith(f"The progress file {progress_file(tmp_path)} could not be written")
    assert "this command's progress is not kept" in message
    assert "\n" not in message


def test_forgetting_a_run_leaves_the_kata_not_tried_with_its_hints(tmp_path):
    progress = kata.load_progress(tmp_path)
    progress.mark("day11/01_zero_grad", "solved")
    progress.use_hint("day11/01_zero_grad")
    progress.save()
    again = kata.load_progress(tmp_path)
    again.forget_run("day11/01_zero_grad")
    again.save()
    last = kata.load_progress(tmp_path)
    assert last.status("day11/01_zero_grad") is None
    assert last.hints_used("day11/01_zero_grad") == 1


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
