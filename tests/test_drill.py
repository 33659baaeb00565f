"""``kata drill``: scripted and interactive rounds on the fake course (tests/data/cli_course)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kata.cli import drill as _drill
from kata.course.meta import discover
from kata.drill import rounds as _rounds

PROJECT = Path(__file__).resolve().parent.parent


def _report(path: Path) -> dict:
    return json.loads(path.read_text())


def test_a_scripted_drill_scores_each_answer_and_reports_it(drill, tmp_path):
    report = tmp_path / "results.json"
    code, out, err = drill("--seed", "5", "--count", "3", "--answers", "a,b,y",
                           "--report", str(report))  # fmt: skip
    assert code == 0, err
    data = _report(report)
    assert data["total"] == 3 and len(data["questions"]) == 3
    kinds = [q["kind"] for q in data["questions"]]
    assert kinds == ["fault", "fault", "interview"]
    for question, answer in zip(data["questions"][:2], "ab", strict=True):
        assert question["answer"] == answer
        assert question["right"] == (question["choices"][answer] == question["expected"])
        assert question["hints_used"] == 0 and question["seconds"] >= 0
        assert question["expected"] in question["diagnosis"]  # really run under diagnostics
    assert data["questions"][2]["right"] is True
    assert data["score"] == sum(q["right"] for q in data["questions"])
    assert f"{data['score']} of 3 right." in out
    assert "What the diagnostics report when it runs:" in out


def test_the_same_seed_draws_the_same_rounds_and_codes_as_answers_score_full_marks(drill, tmp_path):
    first = tmp_path / "first.json"
    assert drill("--seed", "9", "--count", "4", "--answers", "a,a,n,a",
                 "--report", str(first))[0] == 0  # fmt: skip
    answers = [q["expected"] if q["kind"] == "fault" else "y" for q in _report(first)["questions"]]
    second = tmp_path / "second.json"
    code, out, _ = drill("--seed", "9", "--count", "4", "--answers", ",".join(answers),
                         "--report", str(second))  # fmt: skip
    assert code == 0
    data = _report(second)
    assert [q["source"] for q in data["questions"]] == [
        q["source"] for q in _report(first)["questions"]
    ]
    assert data["score"] == data["total"] == 4
    assert "4 of 4 right." in out


def test_hints_are_counted_and_each_takes_one_more_answer(drill, tmp_path):
    report = tmp_path / "r.json"
    code, out, _ = drill("--seed", "2", "--count", "1", "--no-interview",
                         "--answers", "?,?,a", "--report", str(report))  # fmt: skip
    assert code == 0
    assert "Hint 1: " in out and "Hint 2: " in out
    assert _report(report)["questions"][0]["hints_used"] == 2


def test_answers_can_come_from_a_file(drill, tmp_path):
    answers = tmp_path / "answers.txt"
    answers.write_text("c\n\nd\n")
    report = tmp_path / "r.json"
    code, _, _ = drill("--seed", "1", "--count", "2", "--answers", str(answers),
                       "--report", str(report))  # fmt: skip
    assert code == 0
    assert [q["answer"] for q in _report(report)["questions"]] == ["c", "d"]


def test_a_timed_answer_over_the_limit_counts_as_wrong(drill, tmp_path, monkeypatch):
    monkeypatch.setattr(_drill, "TIME_LIMIT", -1.0)  # every answer is late
    first = tmp_path / "first.json"
    drill("--seed", "4", "--count", "1", "--no-interview", "--answers", "a",
          "--report", str(first))  # fmt: skip
    right_code = _report(first)["questions"][0]["expected"]
    report = tmp_path / "r.json"
    code, out, _ = drill("--seed", "4", "--count", "1", "--no-interview", "--timed",
                         "--answers", right_code, "--report", str(report))  # fmt: skip
    assert code == 0
    question = _report(report)["questions"][0]
    assert question["over_time"] is True and question["right"] is False
    assert "Over time" in out


def test_the_score_history_is_kept_across_sessions(drill, course):
    for answers in ("a", "b"):
        assert drill("--seed", "3", "--count", "1", "--no-interview", "--answers", answers)[0] == 0
    history = json.loads((course / ".kata" / "drill-history.json").read_text())
    assert len(history["sessions"]) == 2
    assert {"score", "total", "seed", "when"} <= set(history["sessions"][0])


def test_a_corrupt_history_is_reported_and_started_afresh(drill, course):
    path = course / ".kata" / "drill-history.json"
    path.parent.mkdir()
    path.write_text("[1, 2")
    code, out, err = drill("--seed", "3", "--count", "1", "--no-interview", "--answers", "a")
    assert code == 0
    assert "kata: warning: the drill history" in err
    assert len(json.loads(path.read_text())["sessions"]) == 1
    assert path.with_name("drill-history.json.corrupt").read_text() == "[1, 2"
    assert "over 1 session(s)" in out


def test_running_out_of_answers_is_one_clear_line(drill, course):
    code, _, err = drill("--seed", "3", "--count", "3", "--answers", "a")
    assert code == 1
    assert "kata: error: --answers ran out after 1 answer(s)" in err
    assert err.strip().count("\n") == 0
    assert not (course / ".kata" / "drill-history.json").exists()


def test_an_unknown_day_suggests_the_closest_one(drill):
    code, _, err = drill("--day", "2", "--answers", "a")
    assert code == 1
    assert "No day '2' in this course (days: day01)" in err


def test_interactive_answers_are_asked_again_until_understood(drill, monkeypatch, tmp_path):
    report = tmp_path / "r.json"
    monkeypatch.setattr(sys, "stdin", io.StringIO("zz\nb\n"))
    code, out, _ = drill("--seed", "6", "--count", "3", "--report", str(report))
    assert code == 1  # the input ends before round 2's answer
    monkeypatch.setattr(sys, "stdin", io.StringIO("zz\nb\nc\nI think it is no_grad\nmaybe\nn\n"))
    code, out, _ = drill("--seed", "6", "--count", "3", "--report", str(report))
    assert code == 0
    assert "Answer with a letter a-d or a finding code." in out
    assert "Answer y or n." in out
    questions = _report(report)["questions"]
    assert [q["answer"] for q in questions] == ["b", "c", "I think it is no_grad"]
    assert questions[2]["right"] is False


def test_snippets_are_the_function_holding_the_fault_of_the_shipped_kata(course):
    rounds = _rounds.fault_rounds(discover(course))
    by_source = {r.source: r for r in rounds}
    # The learner has solved 01, but the drill shows the kata as shipped.
    shipped = by_source["day01/01_fit_a_line"]
    assert shipped.code == "grads-cleared-before-step"
    start, snippet = _rounds.snippet(shipped.broken, 16)
    assert start == 7 and snippet.startswith("def train(seed=0, steps=60):")
    # Operators applied to the solutions add rounds, but never the kata's own fault again.
    operated = [r for r in rounds if "with '" in r.source]
    assert operated
    assert all(r.code not in r.meta.codes for r in operated)


def test_ctrl_c_during_a_question_stops_with_one_line_and_records_nothing(course):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kata.cli", "drill", "--seed", "1", "--root", str(course)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, cwd=PROJECT,
    )  # fmt: skip
    try:
        for line in proc.stdout:
            if line.startswith("  d) "):  # the question is up; the prompt waits for input
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Drill stopped" in err
    assert "Traceback" not in err
    assert not (course / ".kata" / "drill-history.json").exists()


def _record_sessions(root: str, count: int) -> None:
    from rich.console import Console

    from kata.course.course import Course

    course = Course.locate(Path(root))
    quiet = Console(file=io.StringIO())
    for index in range(count):
        _drill._record(course, quiet, quiet, seed=os.getpid(), index=index)


def test_drills_ending_at_once_each_keep_their_sessions(course):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_record_sessions, args=(str(course), 5)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    history = json.loads((course / ".kata" / _drill.HISTORY_FILE).read_text())
    assert len(history["sessions"]) == 20


def test_an_unwritable_history_is_one_warning_and_the_scores_still_show(drill, course, monkeypatch):
    def refuse(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_drill, "write_json", refuse)  # as root, a read-only folder is writable
    code, out, err = drill("--seed", "5", "--count", "1", "--answers", "a")
    assert code == 0
    assert "could not be saved (Permission denied)" in err and "not kept" in err
    assert "Traceback" not in out + err
    assert "1 round" in out or "round" in out.lower()
