"""``kata validate`` against a course of deliberately invalid katas (tests/data/invalid_course).

Each kata there breaks the course contract in one way (kata/authoring/contract.py), and validate
must reject it with the message that names that way; the one valid kata must pass. The course is
validated once for the module (one seed, a time budget of 4 s that only 05_slow_train exceeds); the
cheaper checks run on their own.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from kata.authoring import contract as _contract
from kata.authoring.contract import constant_changes
from kata.cli import main
from tests.helpers import copy_course

DATA = Path(__file__).parent / "data" / "invalid_course"

# kata or day -> the words validate must say about it (None: it is valid)
EXPECTED: dict[str, list[str] | None] = {
    "day01/01_valid": None,
    "day01/02_asserts_catch_nothing": [
        "passes its own asserts as shipped with seed 0; only the diagnosis would fail it"
    ],
    "day01/03_solution_changes_constants": [
        "the solution changes the constant steps from 60 to 200, beyond the fault",
        "the solution changes the constant lr from 0.2 to 0.1, beyond the fault",
        "solution_may_change = ['lr']",
    ],
    "day01/04_typo_fault": [
        "as shipped it fails with NameError: name 'optimiser' is not defined",
        "that is a typo, not a training bug",
    ],
    "day01/05_slow_train": ["over its time budget of 4 s"],
    "day01/06_identical_hints": ["hint 2 repeats hint 1", "hint 3 repeats hint 1"],
    "day01/07_test_bypasses_the_fixture": [
        "line 8: 'import train': the test reaches the kata's file without the kata fixture",
        "the solution cannot be judged while the tests bypass the kata fixture",
    ],
    "day01/08_solution_with_a_stray_file": [
        "notes.py: stray file; the solution folder holds exactly the kata's files"
    ],
    "day01/09_no_fault": ["identical to its solution", "the kata has no fault"],
    "day01/10_test_file_does_not_parse": ["test_kata.py: cannot be parsed"],
    "day01/11_typo_in_an_api_name": [
        "fails with AttributeError: module 'torch.nn' has no attribute 'MSELos'",
        "that is a typo, not a training bug",
    ],
    "day02/01_in_a_day_without_a_lesson": None,
    "day02": ["day02/README.md: empty; write the day's lesson there"],
    "day03/01_malformed_metadata": ["field 'file': this is not valid TOML"],
}


def _kata(root: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*argv, "--root", str(root)])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_course(DATA, tmp_path_factory.mktemp("invalid") / "course")


@pytest.fixture(scope="module")
def validated(course: Path) -> tuple[int, str, str, dict]:
    report = course.parent / "validate.json"
    code, out, err = _kata(
        course, "validate", "--seeds", "1", "--time-budget", "4", "--json", str(report)
    )
    return code, out, err, json.loads(report.read_text())


def _block(out: str, subject: str) -> str:
    """The lines validate printed about one kata or day: its line and the indented ones."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line[2:].split("  ")[0] == subject:
            block = [line]
            for following in lines[i + 1 :]:
                if not following.startswith("    "):
                    break
                block.append(following.strip())
            return " ".join(block)
    raise AssertionError(f"validate said nothing about {subject}:\n{out}")


@pytest.mark.parametrize("subject", EXPECTED)
def test_validate_rejects_each_invalid_kata_with_its_own_message(validated, subject):
    _, out, _, report = validated
    block = _block(out, subject)
    expected = EXPECTED[subject]
    if expected is None:
        assert block.startswith("✔"), block
        assert not report["katas"][subject]["problems"]
        return
    assert block.startswith("✘"), block
    for words in expected:
        assert words in block, f"{words!r} missing from:\n{block}"


def test_validate_fails_and_counts_the_invalid_katas_and_days(validated):
    code, _, err, _ = validated
    assert code == 1
    invalid = sum(1 for v in EXPECTED.values() if v)
    assert f"{invalid} of {len(EXPECTED)} kata(s) and day(s) have problems" in err


def test_validate_reports_each_katas_time_and_solution_diff(validated):
    _, out, _, report = validated
    assert _block(out, "day01/01_valid").startswith("✔ day01/01_valid  ")
    assert "solution: train.py +1 -0 (line 16)" in _block(out, "day01/01_valid")
    entry = report["katas"]["day01/01_valid"]
    assert entry["diff"] == ["train.py +1 -0 (line 16)"]
    assert 0 < entry["seconds"] < 4
    assert report["katas"]["day01/05_slow_train"]["seconds"] > 4


@pytest.mark.parametrize("name", ["day03", "3", "day03/01", "malformed_metadata"])
def test_a_malformed_kata_toml_is_reported_as_such_whatever_names_it(course, name):
    code, out, err = _kata(course, "validate", name, "--no-run")
    assert code == 1
    assert "day03/01_malformed_metadata/kata.toml: field 'file': this is not valid TOML" in out
    assert "No day" not in err


def test_an_unknown_day_is_still_refused_with_the_days_there_are(course):
    code, _, err = _kata(course, "validate", "day09", "--no-run")
    assert code == 1
    assert "No day 'day09' in this course (days: day01, day02)" in err


def test_a_time_budget_must_be_positive(course):
    code, _, err = _kata(course, "validate", "day01/01", "--time-budget", "0")
    assert code == 1
    assert "--time-budget must be a number of seconds above 0, not 0.0" in err


def test_the_diff_option_shows_the_whole_solution_diff(course):
    code, out, _ = _kata(course, "validate", "day01/01", "--no-run", "--diff")
    assert code == 0, out
    assert "+        optimizer.zero_grad()" in out


# -- the solution's diff: constants beyond the fault ---------------------------------------------
def test_a_changed_learning_rate_and_epoch_count_are_named():
    shipped = "EPOCHS = 5\nopt = SGD(params, lr=0.1)\ncfg = {'momentum': 0.9}\n"
    solution = "EPOCHS = 20\nopt = SGD(params, lr=0.01)\ncfg = {'momentum': 0.5}\n"
    changes = constant_changes(shipped, solution)
    assert [(c.name, c.old, c.new, c.line) for c in changes] == [
        ("EPOCHS", "5", "20", 1),
        ("lr", "0.1", "0.01", 2),
        ("momentum", "0.9", "0.5", 3),
    ]


def test_a_fix_that_adds_code_or_renames_a_layer_changes_no_constant():
    shipped = "bn = nn.BatchNorm1d(8)\nreturn x * keep\nloss.backward()\n"
    solution = (
        "bn = nn.BatchNorm2d(8)  # one statistic per channel\n"
        "return x * keep / (1.0 - p)\noptimizer.zero_grad()\nloss.backward()\n"
    )
    assert constant_changes(shipped, solution) == []


def test_a_constant_the_kata_allows_is_not_flagged(tmp_path):
    root = tmp_path / "course"
    shutil.copytree(DATA, root, ignore=shutil.ignore_patterns("conftest.py", "__pycache__"))
    meta = root / "katas" / "day01" / "03_solution_changes_constants" / "kata.toml"
    meta.write_text(
        meta.read_text().replace('files = ["train.py"]\n', 'files = ["train.py"]\n'
        'solution_may_change = ["lr", "steps"]\n')
    )  # fmt: skip
    assert _kata(root, "ship", "day01/03")[0] == 0  # an author records the edit
    code, out, _ = _kata(root, "validate", "day01/03", "--no-run")
    assert code == 0, out


def test_a_kata_that_never_ends_stops_the_run_with_one_message(tmp_path, monkeypatch):
    root = tmp_path / "course"
    shutil.copytree(DATA, root, ignore=shutil.ignore_patterns("conftest.py", "__pycache__"))
    train = root / "katas" / "day01" / "01_valid" / "train.py"
    # An endless loop that sleeps: it never ends, and burns no core for the 16 s it is given.
    endless = "    while True:\n        __import__('time').sleep(0.05)\n"
    train.write_text(train.read_text().replace("    losses = []\n", endless))
    monkeypatch.setattr(_contract, "_START_S", 15.0)
    code, out, _ = _kata(root, "validate", "day01/01", "--seeds", "1", "--time-budget", "1")
    assert code == 1
    assert "The broken run did not finish in 16 s, the katas' time budgets together" in out
