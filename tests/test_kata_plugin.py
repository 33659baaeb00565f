"""The kata pytest plugin, black-box: pytest runs over a tiny fake course (tests/data/course).

The fake course has one kata per outcome: day11/01_solved (passes as shipped), 02_finding
(asserts pass, diagnostics find eval-mode-in-training), 03_assert_only (an assert fails,
nothing to diagnose); day12/01_syntax_error, 02_import_error (the learner's file does not
load), 03_bad_meta (kata.toml has two hints). Each has a solution that passes.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COURSE = Path(__file__).resolve().parent / "data" / "course"
PLUGIN = ("-p", "kata.plugin.hooks")


@pytest.fixture(scope="module", autouse=True)
def _torch_warmed_up():
    """Train once before pytester snapshots sys.modules: torch imports some modules lazily on
    first use, and one dropped after a run registers its operators twice when imported again."""
    import diagnostics
    from kata.course.loader import load_file

    solution = COURSE / "solutions" / "day11" / "02_finding" / "train.py"
    with diagnostics.watch():
        load_file(solution, label="warm_up").train(seed=0)


@pytest.fixture(autouse=True)
def _only_the_kata_plugin(monkeypatch):
    """Inner runs load the kata plugin alone: other installed plugins would be imported afresh
    by every run (pytester forgets modules imported during a run), at a cost of seconds."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def course(pytester: pytest.Pytester) -> pytest.Pytester:
    for part in ("katas", "solutions"):
        shutil.copytree(COURSE / part, pytester.path / part)
    # Every kata's test file is named test_kata.py: import them by path, as the project does.
    pytester.makeini("[pytest]\naddopts = --import-mode=importlib -p no:cacheprovider\n")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*PLUGIN, *args)


def block_of(result: pytest.RunResult, test: str) -> str:
    """The failure block pytest printed for one test (from its header to the next header)."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if line.strip("_ ").endswith(test))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith(("___", "==="))),
        len(lines),
    )
    return "\n".join(lines[start:end])


def add_kata(pytester: pytest.Pytester, kata_id: str, test: str, train: str | None = None,
             **meta: str) -> Path:  # fmt: skip
    """A throwaway kata: the solved kata's metadata (with ``meta`` lines replaced)."""
    base = COURSE / "katas" / "day11" / "01_solved"
    folder = pytester.path / "katas" / kata_id
    folder.mkdir(parents=True)
    toml = (base / "kata.toml").read_text()
    for key, value in meta.items():
        toml = "\n".join(
            f"{key} = {value}" if line.startswith(f"{key} =") else line
            for line in toml.splitlines()
        )
    (folder / "kata.toml").write_text(toml + "\n")
    (folder / "train.py").write_text(train or (base / "train.py").read_text())
    (folder / "test_kata.py").write_text(test)
    return folder


def write_progress(pytester: pytest.Pytester, hints: dict[str, int]) -> Path:
    path = pytester.path / ".kata" / "progress.json"
    path.parent.mkdir(exist_ok=True)
    katas = {k: {"status": "failing", "hints_used": n, "last_run": ""} for k, n in hints.items()}
    path.write_text(json.dumps({"version": 1, "katas": katas}))
    return path


# -- outcomes and the failure block ------------------------------------------------------------


def test_a_kata_whose_tests_all_pass_counts_as_solved_in_its_days_line(course):
    result = run(course, "katas/day11/01_solved", "katas/day11/03_assert_only")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*= katas, seed 0 =*", "day11: 1 of 2 katas solved"])


def test_a_diagnosed_fault_fails_the_kata_even_though_its_asserts_pass(course):
    result = run(course, "katas/day11/02_finding")
    result.assert_outcomes(failed=1)
    block = block_of(result, "test_the_loss_is_a_number")
    assert "Kata day11/02_finding: Dropout off while training" in block
    assert "The test's own checks passed, but the diagnosis found a fault" in block
    assert "eval-mode-in-training" in block
    assert "Hint 1 of 3: Dropout off while training: hint 1" in block
    assert "Run it again: pytest katas/day11/02_finding" in block


def test_a_failing_kata_shows_one_block_without_a_traceback(course):
    result = run(course, "katas/day11/02_finding", "katas/day11/03_assert_only")
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "torch/nn/modules" not in output
    assert not [line for line in result.outlines if line.startswith("E ")]


def test_a_failed_assert_shows_the_tests_words_without_pytests_rewriting(course):
    result = run(course, "katas/day11/03_assert_only")
    block = block_of(result, "test_the_loss_at_least_halves")
    assert "Kata day11/03_assert_only: Steps too small" in block
    assert "The test says: The loss went from 1.17 to 1.17: it should at least halve" in block
    assert "assert " not in block
    assert "Diagnosis:" not in block
    assert "Hint 1 of 3: Steps too small: hint 1" in block


def test_the_short_summary_names_the_kata_and_what_happened_in_one_line(course):
    result = run(course, "katas/day11/03_assert_only", "-vv")
    result.stdout.fnmatch_lines(
        [
            "FAILED *test_kata.py::test_the_loss_at_least_halves - "
            "Kata day11/03_assert_only: The test says: The loss went from 1.17 to 1.17*"
        ]
    )


def test_kata_traceback_adds_pytests_own_report_under_the_block(course):
    result = run(course, "katas/day11/03_assert_only", "--kata-traceback")
    result.stdout.fnmatch_lines(
        ["Run it again: pytest katas/day11/03_assert_only", "", "Full traceback:", "*", "*"]
    )
    result.stdout.fnmatch_lines(["E       assert * < (* / 2)"])


def test_with_tb_line_a_failing_kata_test_is_one_line(course):
    result = run(course, "katas/day11/03_assert_only", "--tb=line")
    result.stdout.fnmatch_lines(
        [
            "*= FAILURES =*",
            "katas/day11/03_assert_only/test_kata.py:1: Kata day11/03_assert_only: The test says*",
            "*= katas, seed 0 =*",
        ]
    )


@pytest.mark.parametrize(
    ("used", "shown"), [(1, "Hint 2 of 3: *hint 2"), (3, "Hint 3 of 3: *hint 3")]
)
def test_the_hint_shown_is_the_next_one_after_those_the_learner_used(course, used, shown):
    write_progress(course, {"day11/03_assert_only": used})
    result = run(course, "katas/day11/03_assert_only")
    result.stdout.fnmatch_lines([shown])


def test_a_syntax_error_in_the_learners_file_is_reported_at_its_line(course):
    result = run(course, "katas/day12/01_syntax_error")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "Your train.py has a syntax error at line 19: expected ':'.",
            "    19 |     for _ in range(STEPS)",
            "       |                          ^",
        ]
    )
    assert "importlib" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_an_import_error_in_the_learners_file_names_the_import_and_its_line(course):
    result = run(course, "katas/day12/02_import_error")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "Your train.py could not import what it needs (line 6): "
            "cannot import name 'regresion' from 'kata_fixtures'*",
            "     6 | from kata_fixtures import regresion",
        ]
    )


def test_an_exception_in_the_learners_code_is_shown_at_the_learners_line(course):
    base = (COURSE / "katas" / "day11" / "01_solved" / "train.py").read_text()
    test = (COURSE / "katas" / "day11" / "01_solved" / "test_kata.py").read_text()
    add_kata(course, "day13/01_crash", test, base.replace("nn.Linear(4, 1)", "nn.Linear(5, 1)"))
    result = run(course, "katas/day13")
    result.stdout.fnmatch_lines(
        [
            "Your code stopped with RuntimeError: mat1 and mat2 shapes cannot be multiplied*",
            "  at train.py:21: loss = loss_fn(model(data.x_train), data.y_train)",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_malformed_kata_toml_names_the_field_and_the_other_katas_still_run(course):
    result = run(course, "katas/day12")
    result.assert_outcomes(failed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "Kata day12/03_bad_meta",
            "test_the_loss_at_least_halves could not run.",
            "*katas/day12/03_bad_meta/kata.toml: field 'hints': expected exactly 3 hints*",
        ]
    )
    result.stdout.fnmatch_lines(["day12: 0 of 3 katas solved"])


def test_tests_outside_a_kata_folder_are_left_alone(pytester):
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 == 2\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E       assert 1 == 2"])
    result.stdout.no_fnmatch_line("katas:*")
    result.stdout.no_fnmatch_line("*= katas, seed*")


def test_the_kata_fixture_outside_a_kata_folder_says_where_it_works(pytester):
    pytester.makepyfile(test_plain="def test_plain(kata):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*The 'kata' fixture works only in a kata's test_kata.py*"])


def test_folders_starting_with_an_underscore_are_not_collected(course):
    shutil.copytree(REPO / "katas" / "_template", course.path / "katas" / "_template")
    shutil.rmtree(course.path / "katas" / "day12")
    result = run(course, "katas", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["3 tests collected*"])
    assert "_template" not in result.stdout.str()


def test_a_folder_starting_with_an_underscore_run_by_name_is_no_kata(course):
    shutil.copytree(REPO / "katas" / "_template", course.path / "katas" / "_template")
    result = run(course, "katas/_template")
    result.stdout.fnmatch_lines(["*The 'kata' fixture works only in a kata's test_kata.py*"])
    result.stdout.no_fnmatch_line("*= katas, seed*")
    assert not (course.path / ".kata" / "progress.json").exists()


# -- seeds, solutions, isolation ------------------------------------------------------------------

SEEDED = """\
import random

import numpy
import torch


def test_everything_is_seeded_with_the_kata_seed(kata):
    assert kata.seed == 2
    drawn = (random.random(), numpy.random.rand(), torch.rand(1).item())
    random.seed(2)
    numpy.random.seed(2)
    torch.manual_seed(2)
    assert drawn == (random.random(), numpy.random.rand(), torch.rand(1).item())
"""


def test_kata_seed_reaches_the_fixture_and_seeds_random_numpy_and_torch(course):
    add_kata(course, "day13/01_seeded", SEEDED)
    result = run(course, "katas/day13", "--kata-seed", "2")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["katas: seed 2, learner's files, torch *", "*katas, seed 2*"])


GRAD_OFF = """\
import torch


def test_a_kata_turns_gradients_off_globally(kata):
    torch.set_grad_enabled(False)
"""
GRAD_ON = """\
import torch


def test_the_next_kata_starts_with_gradients_on(kata):
    assert torch.is_grad_enabled()
"""


def test_global_torch_switches_a_kata_flips_are_restored_for_the_next(course):
    add_kata(course, "day13/01_grad_off", GRAD_OFF)
    add_kata(course, "day13/02_grad_on", GRAD_ON)
    result = run(course, "katas/day13", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_with_kata_solution_the_solutions_pass_and_no_progress_is_recorded(course):
    result = run(course, "katas/day11", "--kata-solution")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["katas: seed 0, solutions, *", "*katas, seed 0 (solutions)*", "day11: 3 of 3 katas solved"]
    )
    assert not (course.path / ".kata" / "progress.json").exists()


# -- progress ------------------------------------------------------------------------------------


def test_each_run_records_the_katas_status_in_the_progress_file(course):
    run(course, "katas/day11")
    progress = json.loads((course.path / ".kata" / "progress.json").read_text())
    assert progress["version"] == 1
    statuses = {k: v["status"] for k, v in progress["katas"].items()}
    assert statuses == {
        "day11/01_solved": "solved",
        "day11/02_finding": "failing",
        "day11/03_assert_only": "failing",
    }
    assert progress["katas"]["day11/01_solved"]["last_run"].startswith("20")


def test_hints_used_survive_a_run(course):
    write_progress(course, {"day11/03_assert_only": 2})
    run(course, "katas/day11/03_assert_only")
    progress = json.loads((course.path / ".kata" / "progress.json").read_text())
    assert progress["katas"]["day11/03_assert_only"]["hints_used"] == 2


def test_a_corrupt_progress_file_is_reported_and_rebuilt_without_failing_the_run(course):
    path = course.path / ".kata" / "progress.json"
    path.parent.mkdir()
    path.write_text("{half a file")
    result = run(course, "katas/day11/01_solved")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["warning: The progress file * could not be read*"])
    assert json.loads(path.read_text())["katas"]["day11/01_solved"]["status"] == "solved"
    assert path.with_name("progress.json.corrupt").read_text() == "{half a file"


def test_kata_no_progress_neither_reads_nor_writes_the_progress_file(course):
    write_progress(course, {"day11/03_assert_only": 1})
    before = (course.path / ".kata" / "progress.json").read_text()
    result = run(course, "katas/day11/03_assert_only", "--kata-no-progress")
    result.stdout.fnmatch_lines(["Hint 1 of 3: *"])
    assert (course.path / ".kata" / "progress.json").read_text() == before


# -- the JSON report ----------------------------------------------------------------------------


def test_the_json_report_has_each_katas_status_codes_tests_and_hints(course):
    write_progress(course, {"day11/03_assert_only": 2})
    run(course, "katas", "--kata-seed", "1", "--kata-report", "out/report.json")
    report = json.loads((course.path / "out" / "report.json").read_text())
    assert (report["format"], report["version"]) == ("torch-katas kata report", 1)
    assert (report["seed"], report["variant"]) == (1, "learner")
    assert report["days"] == {
        "day11": {"katas": 3, "solved": 1},
        "day12": {"katas": 3, "solved": 0},
    }
    katas = report["katas"]
    assert list(katas) == [
        "day11/01_solved",
        "day11/02_finding",
        "day11/03_assert_only",
        "day12/01_syntax_error",
        "day12/02_import_error",
        "day12/03_bad_meta",
    ]
    assert katas["day11/01_solved"]["status"] == "solved"
    assert katas["day11/01_solved"]["solved"] is True
    finding = katas["day11/02_finding"]
    assert (finding["status"], finding["codes"]) == ("failing", ["eval-mode-in-training"])
    assert finding["findings"][0]["severity"] == "error"
    assert finding["findings"][0]["test"] == "test_the_loss_is_a_number"
    assert finding["tests"] == {"test_the_loss_is_a_number": "failed"}
    assert katas["day11/03_assert_only"]["codes"] == []
    assert katas["day11/03_assert_only"]["hints_used"] == 2
    bad = katas["day12/03_bad_meta"]
    assert bad["tests"] == {"test_the_loss_at_least_halves": "error"}
    assert "field 'hints'" in bad["problem"]


def test_a_kata_whose_test_file_cannot_be_collected_counts_as_failing(course):
    add_kata(course, "day13/01_broken_test", "def test_it(kata:\n")
    run(course, "katas/day13", "--kata-report", "report.json")
    entry = json.loads((course.path / "report.json").read_text())["katas"]["day13/01_broken_test"]
    assert (entry["status"], entry["tests"]) == ("failing", {"collection": "error"})
    assert entry["problem"] == (
        "test_kata.py could not be collected: SyntaxError: '(' was never closed"
    )


# -- the accelerator ------------------------------------------------------------------------------

ON_ACCELERATOR = """\
import sys


def test_it_runs_on_the_accelerator(kata):
    assert sys.modules["kata.accelerator"].active
"""


def test_an_accelerator_kata_is_skipped_with_a_reason_when_the_module_is_missing(
    course, monkeypatch
):
    monkeypatch.setitem(sys.modules, "kata.accelerator", None)  # import fails
    add_kata(course, "day13/01_gpu", ON_ACCELERATOR, accelerator="true")
    result = run(course, "katas/day13", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*This kata runs on an accelerator*is not installed*"])


def test_an_accelerator_kata_runs_inside_the_accelerator_context(course, monkeypatch):
    fake = types.ModuleType("kata.accelerator")
    fake.active = False  # type: ignore[attr-defined]

    @contextmanager
    def accelerator():
        fake.active = True  # type: ignore[attr-defined]
        try:
            yield
        finally:
            fake.active = False  # type: ignore[attr-defined]

    fake.accelerator = accelerator  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kata.accelerator", fake)
    add_kata(course, "day13/01_gpu", ON_ACCELERATOR, accelerator="true")
    result = run(course, "katas/day13")
    result.assert_outcomes(passed=1)
    assert fake.active is False  # left on exit


# -- xdist, and loading through both the entry point and -p -------------------------------------


def test_under_xdist_the_summary_and_report_are_those_of_a_plain_run(course, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    run(course, "katas", "--kata-report", "plain.json", "--kata-no-progress")
    # A subprocess, as a learner runs it; -p and the installed entry point may both load it.
    result = course.runpytest_subprocess(
        *PLUGIN, "-n", "2", "katas", "--kata-report", "xdist.json", "--kata-no-progress"
    )
    result.stdout.fnmatch_lines(["day11: 1 of 3 katas solved", "day12: 0 of 3 katas solved"])
    plain = json.loads((course.path / "plain.json").read_text())
    xdist = json.loads((course.path / "xdist.json").read_text())
    for report in (plain, xdist):
        del report["created"]
        for entry in report["katas"].values():
            del entry["seconds"]
            for finding in entry["findings"]:
                finding.pop("location")  # relative to each process's working folder
    assert xdist == plain


# -- solved means solved --------------------------------------------------------------------------
def _ship(course: pytest.Pytester, kata_id: str) -> None:
    from kata.course.meta import load
    from kata.course.shipped import ship

    ship(load(course.path / "katas" / kata_id))


def test_an_edited_test_file_is_not_solved_and_the_learner_is_told_how_to_restore_it(course):
    _ship(course, "day11/01_solved")
    folder = course.path / "katas" / "day11" / "01_solved"
    (folder / "test_kata.py").write_text("def test_ok():\n    assert True\n")
    result = run(course, "katas/day11/01_solved", "--kata-report", "report.json")
    assert result.ret == 1  # its own test passed, but the kata is not solved
    result.stdout.fnmatch_lines([
        "day11: 0 of 1 kata solved",
        "warning: day11/01_solved: your test_kata.py differs from the course's, so the kata "
        "cannot count as solved*'kata reset --tests day11/01_solved' restores*",
    ])  # fmt: skip
    entry = json.loads((course.path / "report.json").read_text())["katas"]["day11/01_solved"]
    assert (entry["status"], entry["modified"]) == ("failing", ["test_kata.py"])


def test_an_unedited_test_file_raises_no_warning(course):
    _ship(course, "day11/01_solved")
    result = run(course, "katas/day11/01_solved")
    assert result.ret == 0
    assert "differs" not in result.stdout.str()


def test_a_kata_without_its_test_file_still_counts_in_its_day_as_failing(course):
    (course.path / "katas" / "day11" / "03_assert_only" / "test_kata.py").unlink()
    result = run(course, "katas/day11", "--kata-report", "report.json")
    report = json.loads((course.path / "report.json").read_text())
    entry = report["katas"]["day11/03_assert_only"]
    assert entry["status"] == "failing"
    assert entry["problem"].startswith("its test_kata.py is missing")
    assert report["days"]["day11"]["katas"] == len(list((course.path / "katas/day11").iterdir()))
    result.stdout.fnmatch_lines(["warning: day11/03_assert_only: its test_kata.py is missing*"])


ENDLESS = """\
def train(seed=0):
    total = 0
    while True:
        total += 1
"""


def test_a_kata_past_its_budget_ends_with_one_block_at_the_learners_line(course):
    add_kata(
        course, "day13/01_endless",
        "def test_one(kata):\n    kata.load().train()\n\n\n"
        "def test_two(kata):\n    kata.load().train()\n",
        train=ENDLESS,
    )  # fmt: skip
    meta = course.path / "katas" / "day13" / "01_endless" / "kata.toml"
    meta.write_text(meta.read_text().replace("schema = 1\n", "schema = 1\ntimeout = 1\n"))
    result = run(course, "katas/day13", "--kata-report", "report.json")
    result.assert_outcomes(failed=1, skipped=1)  # the second test is not run: budget spent
    block = block_of(result, "test_one")
    assert re.search(
        r"train.py did not finish in 1 s.\n  It was running train.py:(3: while True:|4: total)",
        block,
    ), block
    # One block (pytest's short summary repeats the headline, untruncated where CI is set).
    shown = [line for line in result.stdout.lines if not line.startswith("FAILED ")]
    assert "\n".join(shown).count("did not finish") == 1
    entry = json.loads((course.path / "report.json").read_text())["katas"]["day13/01_endless"]
    assert (entry["status"], entry["timed_out"]) == ("timed out", 1.0)
    assert entry["messages"]["test_one"].startswith("train.py did not finish in 1 s.")


def test_kata_timeout_overrides_every_katas_budget(course):
    add_kata(course, "day13/01_endless", "def test_one(kata):\n    kata.load().train()\n",
             train=ENDLESS)  # fmt: skip
    result = run(course, "katas/day13", "--kata-timeout", "0.5")
    assert "train.py did not finish in 0.5 s." in result.stdout.str()


# -- what a failure shows: the fix withheld, blind mode, one diagnosis per kata --------------------
def _panels(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("╭", "│", "╰"))]


def test_a_diagnosis_shows_what_and_where_but_keeps_the_fix_for_the_last_hint(course):
    result = run(course, "katas/day11/02_finding")
    block = block_of(result, "test_the_loss_is_a_number")
    assert "eval-mode-in-training · train.py:" in block
    assert "Fix:" not in block
    assert "the fix is the last rung of: kata hint day11/02" in block


def test_kata_show_fix_shows_the_fix_at_once(course):
    result = run(course, "katas/day11/02_finding", "--kata-show-fix")
    block = block_of(result, "test_the_loss_is_a_number")
    assert "Fix:" in block and "model.train()" in block
    assert "last rung" not in block


TWO_TESTS = (
    "def test_one(kata):\n    kata.load().train(seed=kata.seed)\n\n\n"
    "def test_two(kata):\n    kata.load().train(seed=kata.seed)\n"
)


def _two_failing_katas(course: pytest.Pytester) -> None:
    train = (COURSE / "katas" / "day11" / "02_finding" / "train.py").read_text()
    for kata_id in ("day13/01_twice", "day13/02_twice"):
        add_kata(course, kata_id, TWO_TESTS, train=train)


def test_a_kata_with_several_failing_tests_shows_its_diagnosis_once(course):
    _two_failing_katas(course)
    result = run(course, "katas/day13/01_twice")
    result.assert_outcomes(failed=2)
    first, second = block_of(result, "test_one"), block_of(result, "test_two")
    assert "eval-mode-in-training" in first and "Hint 1 of 3" in first
    assert "eval-mode-in-training" not in second and "Hint" not in second
    assert "Kata day13/01_twice (diagnosis and hint above): The test's own checks passed" in second
    assert len([line for line in _panels(result.stdout.str()) if line.startswith("╭")]) == 1


def test_under_xdist_a_katas_blocks_come_out_together_with_one_diagnosis_each(course):
    _two_failing_katas(course)
    result = run(course, "katas/day13", "-p", "xdist", "-n", "2")
    result.assert_outcomes(failed=4)
    headers = [line.strip("_ ") for line in result.outlines if line.startswith("____")]
    katas = [
        line.split(" ", 2)[1].rstrip(":")
        for line in result.outlines
        if line.startswith("Kata day13/")
    ]
    assert len(headers) == 4 and len(katas) == 4
    assert katas[0] == katas[1] and katas[2] == katas[3] and katas[1] != katas[2], katas
    assert len([line for line in _panels(result.stdout.str()) if line.startswith("╭")]) == 2


def test_blind_mode_withholds_the_diagnosis_and_the_hint(course):
    result = run(course, "katas/day11/02_finding", "--kata-blind")
    result.assert_outcomes(failed=1)
    block = block_of(result, "test_the_loss_is_a_number")
    assert "The diagnosis is withheld (--kata-blind)" in block
    assert "eval-mode-in-training" not in result.stdout.str()
    assert "Hint" not in block and not _panels(block)
    assert "Run it again: pytest katas/day11/02_finding --kata-blind" in block


def test_blind_mode_says_nothing_of_a_diagnosis_in_a_katas_other_blocks(course):
    _two_failing_katas(course)
    result = run(course, "katas/day13/01_twice", "--kata-blind")
    second = block_of(result, "test_two")
    assert "Kata day13/01_twice (its first failure above): The test's own checks" in second
    assert "diagnosis and hint" not in result.stdout.str()


def test_blind_mode_shows_the_learners_line_of_a_crash(course):
    base = (COURSE / "katas" / "day11" / "01_solved" / "train.py").read_text()
    test = (COURSE / "katas" / "day11" / "01_solved" / "test_kata.py").read_text()
    add_kata(course, "day13/01_crash", test, base.replace("nn.Linear(4, 1)", "nn.Linear(5, 1)"))
    result = run(course, "katas/day13", "--kata-blind")
    result.stdout.fnmatch_lines(["  at train.py:21: loss = loss_fn(model(data.x_train), *"])


def test_a_kata_solved_blind_reveals_its_diagnosis_and_is_recorded_as_blind(course):
    kata_id, kata = "day11/02_finding", course.path / "katas" / "day11" / "02_finding"
    assert run(course, str(kata), "--kata-blind").ret == 1
    solution = COURSE / "solutions" / "day11" / "02_finding" / "train.py"
    (kata / "train.py").write_text(solution.read_text())  # the learner's fix
    result = run(course, str(kata), "--kata-blind")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"{kata_id} solved blind. The diagnosis withheld was:",
            "  error eval-mode-in-training: *",
            "  The lesson: A test concept.",
        ]
    )
    progress = json.loads((course.path / ".kata" / "progress.json").read_text())
    assert progress["katas"][kata_id]["blind"] is True
    run(course, str(kata))  # solved again, the diagnosis shown: still solved blind
    progress = json.loads((course.path / ".kata" / "progress.json").read_text())
    assert progress["katas"][kata_id]["blind"] is True


def test_a_kata_solved_with_the_diagnosis_shown_is_not_blind(course):
    run(course, "katas/day11/01_solved")
    progress = json.loads((course.path / ".kata" / "progress.json").read_text())
    assert "blind" not in progress["katas"]["day11/01_solved"]


FAULT_IN_THE_TEST = """\
import torch


def test_the_test_itself_steps_twice_without_clearing(kata):
    kata.load()
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        model(torch.ones(4, 2)).sum().backward()
        optimizer.step()
"""


def test_a_finding_is_never_placed_in_the_kata_s_test_file(course):
    add_kata(course, "day13/01_test_fault", FAULT_IN_THE_TEST)
    result = run(course, "katas/day13")
    result.assert_outcomes(failed=1)
    panels = "\n".join(_panels(result.stdout.str()))
    assert "grad-accumulation" in panels
    assert "test_kata.py" not in panels


def test_panels_take_the_terminals_width_down_to_60_columns(course, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    result = run(course, "katas/day11/02_finding")
    panels = _panels(result.stdout.str())
    assert panels and max(map(len, panels)) == 60
    monkeypatch.setenv("COLUMNS", "200")
    result = run(course, "katas/day11/02_finding")
    assert max(map(len, _panels(result.stdout.str()))) == 100  # no wider than 100


def test_the_captured_output_of_a_failing_kata_test_is_its_last_lines(course):
    loud = "def test_loud(kata):\n    for i in range(20):\n        print(f'line {i}')\n" \
        "    assert False, 'too loud'\n"  # fmt: skip
    add_kata(course, "day13/01_loud", loud)
    result = run(course, "katas/day13")
    output = result.stdout.str()
    assert "(17 earlier lines left out; --kata-traceback shows them all)" in output
    assert "line 19" in output and "line 16" not in output
    result = run(course, "katas/day13", "--kata-traceback")
    assert "line 0" in result.stdout.str()
