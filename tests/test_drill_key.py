"""The drill's answer key, day scope, answers, history and --weakest (kata/drill/answer_key.py)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from kata.cli import drill as _drill
from kata.course.meta import discover
from kata.drill import answer_key as _answer_key
from kata.drill import rounds as _rounds
from kata.drill.answer_key import AnswerKey, round_digest
from kata.drill.answers import EXAMPLES, NOTHING

PROJECT = Path(__file__).resolve().parent.parent


def _report(path: Path) -> dict:
    return json.loads(path.read_text())


def _first_question(drill, tmp_path, *argv: str) -> dict:
    report = tmp_path / "first.json"
    code, _, err = drill(*argv, "--answers", "a", "--report", str(report))
    assert code == 0, err
    return _report(report)["questions"][0]


# -- --answers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["./missing-file", "answers.txt", "sub/answers"])
def test_a_missing_answers_file_is_one_line_and_exit_2(drill, course, value):
    code, out, err = drill("--answers", value)
    assert code == 2
    assert err.startswith(f"kata: error: --answers: {value} does not exist.")
    assert err.strip().count("\n") == 0 and out == ""
    assert not (course / ".kata" / "drill-history.json").exists()


def test_a_folder_given_as_answers_is_refused(drill, course):
    code, _, err = drill("--answers", str(course))
    assert code == 2 and "is a folder" in err


# -- answers in words ---------------------------------------------------------------------------
def test_a_phrase_naming_the_fault_scores_right(drill, tmp_path):
    expected = _first_question(drill, tmp_path, "--seed", "4", "--count", "1", "--no-interview")
    phrase = EXAMPLES[expected["expected"]][0]
    report = tmp_path / "r.json"
    code, out, _ = drill("--seed", "4", "--count", "1", "--no-interview",
                         "--answers", phrase, "--report", str(report))  # fmt: skip
    assert code == 0
    assert _report(report)["questions"][0]["right"] is True
    assert f"(read from {phrase!r})" in out


def test_an_answer_that_names_no_fault_is_wrong_and_shows_the_accepted_phrasings(drill, tmp_path):
    report = tmp_path / "r.json"
    code, out, _ = drill("--seed", "4", "--count", "1", "--no-interview",
                         "--answers", "no idea really", "--report", str(report))  # fmt: skip
    assert code == 0
    question = _report(report)["questions"][0]
    assert question["right"] is False
    out = " ".join(out.split())  # long lines wrap at the console's width
    assert "'no idea really' was not read as any finding" in out
    assert f"Accepted for {question['expected']}: its letter, the code, or words such as" in out
    assert repr(EXAMPLES[question["expected"]][0]) in out


def test_an_answer_naming_two_faults_is_asked_again(drill, tmp_path):
    report = tmp_path / "r.json"
    code, out, _ = drill("--seed", "4", "--count", "1", "--no-interview", "--answers",
                         "zero_grad and model.eval() are both missing,a",
                         "--report", str(report))  # fmt: skip
    assert code == 0
    assert "reads as grad-accumulation or train-mode-in-eval: which one?" in out
    assert _report(report)["questions"][0]["answer"] == "a"


# -- "nothing is wrong" -------------------------------------------------------------------------
def test_a_correct_loop_round_expects_nothing_and_has_no_diagnosis(drill, tmp_path, monkeypatch):
    monkeypatch.setattr(_rounds, "NOTHING_SHARE", 1.0)  # every code round shows a correct loop
    report = tmp_path / "r.json"
    code, out, _ = drill("--seed", "1", "--count", "2", "--no-interview",
                         "--answers", "nothing is wrong,grad-accumulation",
                         "--report", str(report))  # fmt: skip
    assert code == 0
    first, second = _report(report)["questions"]
    for question in (first, second):
        assert question["kind"] == "fault" and question["expected"] == NOTHING
        assert question["diagnosis"] == [] and NOTHING in question["choices"].values()
        assert question["topic"] == "correct loops"
    assert (first["right"], second["right"]) == (True, False)
    assert "Nothing is wrong." in out


def test_every_fault_round_offers_nothing_is_wrong_among_its_choices(drill, tmp_path):
    report = tmp_path / "r.json"
    assert drill("--seed", "8", "--count", "2", "--no-interview", "--answers", "a,a",
                 "--report", str(report))[0] == 0  # fmt: skip
    for question in _report(report)["questions"]:
        assert len(question["choices"]) == 4
        assert NOTHING in question["choices"].values()


# -- the answer key -----------------------------------------------------------------------------
def test_verdicts_are_cached_so_a_second_drill_runs_each_round_once(drill, course, monkeypatch):
    runs = []
    real = _answer_key.diagnose
    monkeypatch.setattr(_answer_key, "diagnose", lambda r: runs.append(r.source) or real(r))
    argv = ("--seed", "3", "--count", "2", "--no-interview", "--answers", "a,a")
    assert drill(*argv)[0] == 0
    first = list(runs)
    assert len(first) >= 2  # at least the two rounds shown: verified, then revealed from memory
    cache = json.loads((course / ".kata" / "drill-verdicts.json").read_text())
    assert len(cache["verdicts"]) == len(first)
    runs.clear()
    assert drill(*argv)[0] == 0
    assert len(runs) == 2  # the verdicts come from the cache; only the two reveals run


def test_a_round_whose_verdict_disagrees_is_never_drawn(drill, course, tmp_path):
    key_file = course / ".kata" / "drill-verdicts.json"
    assert drill("--pool")[0] == 0  # verifies the whole pool into the cache
    data = json.loads(key_file.read_text())
    for verdict in data["verdicts"].values():
        verdict["codes"] = ["shape-mismatch"]  # every fault now "reports" something else
    key_file.write_text(json.dumps(data))
    report = tmp_path / "r.json"
    code, _, err = drill("--seed", "3", "--count", "3", "--no-interview",
                         "--answers", "a,a,a", "--report", str(report))  # fmt: skip
    # Only a round expecting exactly shape-mismatch could be confirmed: there is none, and
    # correct loops need a silent run, so nothing is left to draw.
    assert code == 1
    assert "reported what it expects when run under the diagnostics" in err
    assert "'kata drill --pool'" in err and not report.exists()


def test_a_changed_source_is_a_new_verdict(course):
    rounds = _rounds.fault_rounds(discover(course))
    one = rounds[0]
    other = _rounds.Round(**{**one.__dict__, "broken": one.broken + "\n# edited\n"})
    assert round_digest(one) != round_digest(other)
    assert round_digest(one) == round_digest(_rounds.Round(**one.__dict__))


def test_an_unreadable_verdict_cache_is_rebuilt(tmp_path):
    path = tmp_path / "drill-verdicts.json"
    path.write_text("{not json")
    key = AnswerKey.load(path)
    assert key.verdicts == {}
    key.save()
    assert json.loads(path.read_text())["verdicts"] == {}


# -- day scope ----------------------------------------------------------------------------------
@pytest.mark.parametrize("day", [11, 12])
def test_a_day_draws_only_the_faults_and_questions_it_teaches(day):
    metas = discover(PROJECT)
    taught = {code for m in metas if m.day == day for code in m.codes}
    pool = _rounds.build_pool(metas, days=[day])
    assert pool.faults and pool.correct and pool.questions
    assert {r.code for r in pool.faults} <= taught
    every = [*pool.faults, *pool.correct, *pool.questions]
    assert {r.day for r in every} == {day}
    assert all(r.meta is None or r.meta.day == day for r in every)
    bank = {r.question.id for r in pool.questions if r.question is not None}
    assert ("optimizers-in-pytorch" in bank) == (day == 11)
    assert ("regularization-in-pytorch" in bank) == (day == 12)


# -- history, --timed, --weakest ----------------------------------------------------------------
def test_the_history_keeps_accuracy_per_topic_and_the_summary_times_each_round(drill, course):
    code, out, _ = drill("--seed", "3", "--count", "3", "--timed", "--answers", "a,a,y")
    assert code == 0
    history = json.loads((course / ".kata" / "drill-history.json").read_text())
    assert history["version"] == 2
    rounds = history["sessions"][0]["rounds"]
    assert len(rounds) == 3 and all({"topic", "right", "seconds"} <= set(r) for r in rounds)
    topics = history["topics"]
    assert sum(t["total"] for t in topics.values()) == 3
    for entry in topics.values():
        assert entry["accuracy"] == round(entry["right"] / entry["total"], 3)
    assert "Rounds" in out and "[60 s left]" in out and "s a round." in out


def test_weakest_draws_the_topics_missed_most_first(drill, course, monkeypatch):
    history = {
        "version": 2,
        "sessions": [
            {"score": 3, "total": 6, "seed": 1, "rounds": [
                *({"topic": "correct loops", "right": False, "seconds": 1.0} for _ in range(3)),
                *({"topic": "gradients", "right": True, "seconds": 1.0} for _ in range(3)),
            ]},
        ],
    }  # fmt: skip
    (course / ".kata").mkdir()
    (course / ".kata" / "drill-history.json").write_text(json.dumps(history))
    monkeypatch.setattr(_rounds, "NOTHING_SHARE", 0.0)  # without --weakest: no correct loop
    report = Path(course / "r.json")
    code, out, _ = drill("--seed", "2", "--count", "2", "--no-interview", "--weakest",
                         "--answers", "a,a", "--report", str(report))  # fmt: skip
    assert code == 0
    assert "Weakest topics first: correct loops." in out
    assert [q["topic"] for q in _report(report)["questions"]] == ["correct loops"] * 2


def test_weakest_without_a_missed_topic_draws_as_usual(drill):
    code, out, _ = drill("--seed", "2", "--count", "1", "--weakest", "--answers", "a")
    assert code == 0
    assert "No topic missed in the drill history yet: drawing as usual." in out


# -- interview questions with key points ----------------------------------------------------------
def test_an_interview_answer_is_scored_by_the_key_points_it_covers(drill, monkeypatch, tmp_path):
    from kata.drill.interview import QUESTIONS

    question = next(q for q in QUESTIONS if q.id == "dropout-scaling")
    real = _rounds.build_pool

    def only_this_question(metas, *, days, interview=True):
        pool = real(metas, days=days, interview=interview)
        source = "question: dropout-scaling"
        bank = _rounds.Round("interview", None, source, day=12, topic=question.topic)
        pool.questions = [_rounds.Round(**{**bank.__dict__, "question": question})]
        return pool

    monkeypatch.setattr(_drill, "build_pool", only_this_question)
    answer = "In training each unit is zeroed with probability p and the rest are scaled by 1/(1-p)"
    report = tmp_path / "r.json"
    code, out, _ = drill("--seed", "1", "--count", "3", "--answers", f"a,a,{answer}",
                         "--report", str(report))  # fmt: skip
    assert code == 0
    item = _report(report)["questions"][2]
    assert item["kind"] == "interview" and item["topic"] == "regularization"
    assert [p["covered"] for p in item["key_points"]] == [True, True, False, False]
    assert item["needed"] == 2 and item["right"] is True
    assert "Key points covered: 2 of 4 (2 needed)." in out
    assert "✔ each activation is zeroed" in out and "✘ in eval mode dropout" in out


def test_a_timed_round_counts_down_while_the_learner_types(drill, monkeypatch):
    class SlowStdin:
        def readline(self) -> str:
            time.sleep(0.6)  # the learner takes longer than the (shortened) time limit
            return "a\n"

    monkeypatch.setattr(_drill, "TIME_LIMIT", 0.4)
    monkeypatch.setattr(_drill, "WARN_BEFORE", 0.3)
    monkeypatch.setattr(sys, "stdin", SlowStdin())
    code, out, _ = drill("--seed", "3", "--count", "1", "--no-interview", "--timed")
    assert code == 0
    assert "[0 s left]" in out
    assert "⏳ 0 s left." in out and "⌛ Time is up: this answer will count as a miss." in out
    assert "Over time" in out


def test_pool_verifies_every_round_and_prints_the_pool_per_day(drill, course):
    code, out, _ = drill("--pool")
    assert code == 0
    assert "Drill pool" in out and "day01" in out and "Verified in" in out
    cache = json.loads((course / ".kata" / "drill-verdicts.json").read_text())
    code, out, _ = drill("--pool")  # the second time, every verdict comes from the cache
    assert code == 0 and "(0 round(s) run" in out
    assert json.loads((course / ".kata" / "drill-verdicts.json").read_text()) == cache


def test_a_history_of_the_first_version_is_kept_and_extended(drill, course):
    old = {"version": 1, "sessions": [{"score": 1, "total": 2, "seed": 3, "when": "x"}]}
    (course / ".kata").mkdir()
    path = course / ".kata" / "drill-history.json"
    path.write_text(json.dumps(old))
    code, out, err = drill("--seed", "3", "--count", "1", "--no-interview", "--answers", "a")
    assert code == 0 and err == ""
    history = json.loads(path.read_text())
    assert history["version"] == 2 and history["sessions"][0] == old["sessions"][0]
    assert sum(t["total"] for t in history["topics"].values()) == 1
    assert "over 2 session(s)" in out
