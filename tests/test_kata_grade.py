"""``kata grade`` and ``kata summary``, run for real against a copy of the tiny fake course
(tests/data/cli_course: 01 solved by the learner, 02 broken as shipped, 03 a syntax error)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from kata.cli import main
from tests.helpers import CLI_COURSE, alive, copy_course, kata_command

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "kata-grade.schema.json"
FIT = "day01/01_fit_a_line"
GROW = "day01/02_steps_that_grow"
SYNTAX = "day01/03_loss_without_graph"


@pytest.fixture
def kata(course, capsys):
    return kata_command(capsys, root=course)


def _grade(kata, course: Path, *argv: str, learner: str = "alice") -> tuple[int, str, dict]:
    path = course.parent / f"{learner}.json"
    code, out, err = kata("grade", *argv, "--learner", learner, "--report", str(path))
    assert "Traceback" not in err, err
    return code, out, json.loads(path.read_text())


def _valid(report: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))


# -- kata grade -----------------------------------------------------------------------------------
def test_grade_reports_each_katas_status_with_the_courses_tests(kata, course):
    code, out, report = _grade(kata, course)
    assert code == 1  # not every kata is solved
    _valid(report)
    katas = report["katas"]
    assert [katas[k]["status"] for k in (FIT, GROW, SYNTAX)] == [
        "solved", "not attempted", "failing",
    ]  # fmt: skip
    assert (report["learner"], report["graded"], report["solved"]) == ("alice", 3, 1)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", report["course"]["revision"])
    assert katas[FIT]["tests"] == [
        {"name": "test_the_line_is_fitted", "status": "passed", "message": None}
    ]
    (failed,) = katas[SYNTAX]["tests"]
    assert failed["status"] == "failed"
    assert failed["message"].startswith("Your train.py has a syntax error at line 7")
    assert katas[GROW]["tests"][0]["status"] == "not run"
    assert katas[FIT]["hints_used"] == {"count": 0, "self_reported": True}
    assert f"✔ {FIT}  solved" in out and f"· {GROW}  not attempted" in out
    assert "alice: 1 of 3 katas solved" in out


def test_grade_exits_0_when_every_kata_selected_is_solved(kata, course):
    code, out, report = _grade(kata, course, FIT)
    assert code == 0, out
    assert list(report["katas"]) == [FIT]


def test_grade_selects_a_day_and_names_an_unknown_one(kata):
    code, _, err = kata("grade", "day07")
    assert code == 1
    assert "No day 'day07' in this course" in err


def test_an_edited_test_file_is_graded_with_the_courses_tests_and_marked_tampered(kata, course):
    (course / "katas" / GROW / "test_kata.py").write_text("def test_ok():\n    assert True\n")
    code, out, report = _grade(kata, course, GROW)
    assert code == 1
    entry = report["katas"][GROW]
    assert (entry["status"], entry["passed"], entry["modified"]) == (
        "tampered", False, ["test_kata.py"],
    )  # fmt: skip
    assert entry["tests"][0]["name"] == "test_the_line_is_fitted"  # the course's test
    assert entry["codes"] == ["grad-accumulation"]
    assert "graded with the course's tests" in out


def test_a_deleted_kata_is_still_graded_and_not_solved(kata, course):
    shutil.rmtree(course / "katas" / FIT)
    code, _, report = _grade(kata, course)
    assert code == 1
    entry = report["katas"][FIT]
    assert (entry["status"], entry["passed"]) == ("tampered", False)
    assert "your train.py is missing" in entry["problem"]
    assert report["graded"] == 3


def test_a_learners_conftest_takes_no_part_in_the_grade(kata, course):
    (course / "katas" / GROW / "train.py").write_text(
        (course / "katas" / GROW / "train.py").read_text() + "\n# attempted\n"
    )
    for folder in (course, course / "katas", course / "katas" / GROW):
        (folder / "conftest.py").write_text(
            "def pytest_collection_modifyitems(items):\n    items.clear()\n"
        )
    (course / "pytest.ini").write_text("[pytest]\naddopts = -p no:kata.plugin.hooks\n")
    code, _, report = _grade(kata, course, GROW)
    assert code == 1
    assert report["katas"][GROW]["status"] == "failing"
    assert report["katas"][GROW]["tests"][0]["status"] == "failed"


def test_a_kata_whose_code_ends_the_process_is_not_solved(kata, course):
    learner = course / "katas" / FIT / "train.py"
    learner.write_text("import os\nos._exit(0)\n" + learner.read_text())
    code, _, report = _grade(kata, course, FIT)
    assert code == 1
    entry = report["katas"][FIT]
    assert entry["status"] == "failing"
    assert "It ended at train.py:2: os._exit(0)." in entry["problem"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="process groups and signals: Unix")
def test_an_endless_loop_is_timed_out_within_the_budget_with_the_learners_line(kata, course):
    pid_file = course.parent / "child.pid"
    learner = course / "katas" / FIT / "train.py"
    learner.write_text(
        "import subprocess, sys\nfrom pathlib import Path\n\n\ndef train(seed=0):\n"
        "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        f"    Path({str(pid_file)!r}).write_text(str(child.pid))\n"
        "    while True:\n        pass\n"
    )
    started = time.monotonic()
    code, _, report = _grade(kata, course, FIT, "--timeout", "2")
    assert time.monotonic() - started < 2 + 5 + 20  # budget, grace, a loaded machine's start
    assert code == 1
    entry = report["katas"][FIT]
    assert entry["status"] == "timed out"
    assert entry["problem"].startswith(
        "train.py did not finish in 2 s.\n  It was running train.py:8: while True:"
    )
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "a process the learner's code started is still running"


def test_exercism_format_writes_results_json(kata, course, monkeypatch):
    monkeypatch.chdir(course.parent)
    code, out, _ = kata("grade", "--format", "exercism")
    assert code == 1
    results = json.loads((course.parent / "results.json").read_text())
    assert (results["version"], results["status"]) == (2, "fail")
    by_name = {t["name"]: t for t in results["tests"]}
    assert by_name[f"{FIT}: test_the_line_is_fitted"] == {
        "name": f"{FIT}: test_the_line_is_fitted", "status": "pass", "message": None,
    }  # fmt: skip
    assert by_name[f"{GROW}: test_the_line_is_fitted"]["status"] == "fail"
    assert "not attempted" in by_name[f"{GROW}: test_the_line_is_fitted"]["message"]
    assert "Report written to results.json" in out


def test_grade_without_the_courses_record_of_its_tests_refuses_in_one_line(kata, course):
    (course / "solutions" / GROW / "shipped" / "test_kata.py").unlink()
    code, _, err = kata("grade")
    assert code == 1
    assert err.count("\n") == 1
    assert "no shipped copy of its test_kata.py" in err and "kata ship" in err


# -- kata summary ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def class_reports(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Two learners' grade reports, graded once for the module: alice as the course ships,
    bob with the broken kata's test file replaced (tampered)."""
    course = copy_course(CLI_COURSE, tmp_path_factory.mktemp("class") / "course")
    paths = []
    for learner in ("alice", "bob"):
        if learner == "bob":
            (course / "katas" / GROW / "test_kata.py").write_text(
                "def test_ok():\n    assert True\n"
            )
        path = course.parent / f"{learner}.json"
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            main(["grade", "--learner", learner, "--report", str(path), "--root", str(course)])
        assert "Traceback" not in err.getvalue(), err.getvalue()
        paths.append(str(path))
    return paths


def test_summary_shows_a_grid_solve_rates_and_common_findings(
    kata, class_reports, tmp_path, monkeypatch
):
    monkeypatch.setenv("NO_COLOR", "1")
    reports = class_reports
    code, out, err = kata("summary", *reports, "--csv", str(tmp_path / "c.csv"),
                          "--json", str(tmp_path / "s.json"))  # fmt: skip
    assert code == 0, err
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert re.search(r"kata\s+alice\s+bob\s+solved", lines[0])
    assert re.search(rf"{FIT}\s+✔\s+✔\s+2/2 100%", out)
    assert re.search(rf"{GROW}\s+·\s+!\s+0/2\s+0%", out)
    assert "grad-accumulation: 1 attempt" in out
    rows = list(csv.DictReader((tmp_path / "c.csv").open()))
    assert {"kata": GROW, "learner": "bob", "status": "tampered",
            "codes": "grad-accumulation"} in rows  # fmt: skip
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["katas"][FIT] == {
        "solved": 2, "graded": 2, "statuses": {"alice": "solved", "bob": "solved"},
    }  # fmt: skip
    assert summary["common_codes"] == [{"code": "grad-accumulation", "failing_attempts": 1}]


def test_summary_splits_a_wide_class_to_fit_the_terminal(kata, class_reports, tmp_path):
    report = class_reports[0]
    data = json.loads(Path(report).read_text())
    paths = []
    for n in range(12):
        data["learner"] = f"learner-number-{n:02d}"
        path = tmp_path / f"r{n}.json"
        path.write_text(json.dumps(data))
        paths.append(str(path))
    code, out, _ = kata("summary", *paths)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "learner-num" in out and out.count("kata ") >= 2


def test_summary_of_a_file_that_is_not_a_grade_report_is_one_line(kata, tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"format": "torch-katas kata report", "version": 1}')
    code, _, err = kata("summary", str(path))
    assert code == 1
    assert err.count("\n") == 1
    assert f"{path}: not a grade report" in err


def test_summary_warns_of_two_reports_of_one_learner_and_of_different_revisions(
    kata, class_reports, tmp_path
):
    report = class_reports[0]
    data = json.loads(Path(report).read_text())
    again = tmp_path / "again.json"
    data["course"]["revision"] = "sha256:" + "0" * 64
    again.write_text(json.dumps(data))
    code, out, err = kata("summary", report, str(again))
    assert code == 0
    assert f"{again}: a second report of 'alice'; shown as its own column." in err
    assert "graded against different course revisions" in err
    assert "alice (2)" in out
