"""The ``kata`` command, run for real against a tiny fake course (tests/data/cli_course).

The course has one kata per outcome: 01 solved by the learner, 02 broken as shipped
(gradients pile up), 03 with a syntax error in the learner's file. Each test works on its own
copy, so progress files, backups and edits never leak between tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kata.cli import main
from kata.course import progress as _progress
from kata.running.runner import Runner, pytest_args
from tests._forked import ForkedCommand, run_forked
from tests.helpers import alive, kata_command

PROJECT = Path(__file__).resolve().parent.parent
FIT = "day01/01_fit_a_line"
GROW = "day01/02_steps_that_grow"
SYNTAX = "day01/03_loss_without_graph"
COMMANDS = ["list", "check", "watch", "hint", "solution", "reset", "drill", "new", "break",
            "validate", "ship", "grade", "summary"]  # fmt: skip


@pytest.fixture
def kata(course, capsys):
    """Run ``kata ARGS --root course``; returns (exit code, stdout, stderr)."""

    return kata_command(capsys, root=course)


def _progress_of(course: Path) -> _progress.Progress:
    return _progress.load(course, repair=False, warn=False)


def _mark(course: Path, *solved: str) -> None:
    progress = _progress_of(course)
    for kata_id in solved:
        progress.mark(kata_id, "solved")
    progress.save()


# -- list ---------------------------------------------------------------------------------------
def test_list_shows_every_kata_not_tried_with_a_bar_per_day(kata):
    code, out, err = kata("list")
    assert code == 0, err
    assert "day01" in out and "0 of 3 solved" in out
    for kata_id in (FIT, GROW, SYNTAX):
        assert f"not tried  {kata_id}" in out
    assert "Next: kata check day01/01_fit_a_line" in out


def test_list_shows_solved_and_failing_katas_from_the_progress_file(kata, course):
    progress = _progress_of(course)
    progress.mark(FIT, "solved")
    progress.mark(GROW, "failing")
    progress.save()
    code, out, _ = kata("list", "1")
    assert code == 0
    assert f"solved     {FIT}" in out
    assert f"failing    {GROW}" in out
    assert "1 of 3 solved" in out
    assert "█" * 10 + "░" * 20 in out


@pytest.mark.parametrize("columns", [60, 80, 140])
def test_list_keeps_ids_whole_and_titles_readable_at_any_width(kata, monkeypatch, columns):
    # Long kata ids leave a title no room beside them on a narrow terminal: it goes on the line
    # under the id instead of wrapping one word a line.
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = kata("list")
    assert code == 0
    lines = out.splitlines()
    for kata_id in (FIT, GROW, SYNTAX):
        assert any(kata_id in line for line in lines), out  # whole, never cut
    assert any("A line that will not fit" in line for line in lines), out
    table = lines[: next(i for i, line in enumerate(lines) if line.startswith("Next:"))]
    assert max(len(line.rstrip()) for line in table) <= columns, out


def test_an_unknown_day_suggests_the_closest_one(kata):
    code, _, err = kata("list", "day3")
    assert code == 1
    assert err.strip().count("\n") == 0
    assert "No day 'day3' in this course (days: day01). Did you mean day01?" in err


# -- check --------------------------------------------------------------------------------------
def test_check_of_a_solved_kata_records_it_and_names_the_next(kata, course):
    code, out, _ = kata("check", FIT)
    assert code == 0
    assert f"✔ {FIT} solved" in out
    assert f"Next: kata check {GROW}" in out
    assert _progress_of(course).status(FIT) == "solved"
    assert "solved     day01/01_fit_a_line" in kata("list")[1]


def test_check_of_a_broken_kata_shows_the_diagnosis_and_fails(kata, course):
    code, out, _ = kata("check", "steps_that_grow")  # by slug
    assert code == 1
    assert "grad-accumulation" in out
    assert "Hint 1 of 3: What is in .grad when the second backward() runs?" in out
    assert f"✘ {GROW} is still failing. Edit katas/{GROW}/train.py" in out
    assert _progress_of(course).status(GROW) == "failing"


def test_check_without_a_name_runs_the_first_unsolved_kata(kata, course):
    _mark(course, FIT)
    code, out, _ = kata("check")
    assert code == 1
    assert f"{GROW}: Steps that grow" in out


def test_check_names_the_line_of_a_syntax_error_without_a_traceback(kata):
    code, out, err = kata("check", str(Path("katas") / SYNTAX))  # relative path from the root
    assert code == 1
    assert "Your train.py has a syntax error at line 7: expected ':'." in out
    assert "Traceback" not in out + err


# -- solved means solved ------------------------------------------------------------------------
def _prepend(path: Path, code: str) -> None:
    path.write_text(code + path.read_text())


def test_a_kata_whose_code_ends_the_process_early_is_not_solved(kata, course):
    _prepend(course / "katas" / FIT / "train.py", "import os\nos._exit(0)\n")
    code, out, _ = kata("check", FIT)
    assert code == 1
    assert f"✔ {FIT} solved" not in out
    assert "ended before its tests finished (exit code 0)" in out
    assert "It ended at train.py:2: os._exit(0)." in out
    assert _progress_of(course).status(FIT) == "failing"


def test_sys_exit_in_the_learners_code_is_a_failure_at_its_line(kata, course):
    learner = course / "katas" / FIT / "train.py"
    learner.write_text(learner.read_text().replace("    return {", "    sys.exit(0)\n    return {"))
    _prepend(learner, "import sys\n")
    code, out, _ = kata("check", FIT)
    assert code == 1
    assert "Your code called sys.exit(0)." in out
    assert "at train.py:22: sys.exit(0)" in out


def test_an_edited_test_file_is_not_solved_and_reset_tests_restores_it(kata, course):
    tests = course / "katas" / GROW / "test_kata.py"
    shipped = tests.read_text()
    tests.write_text("def test_ok():\n    assert True\n")
    code, out, _ = kata("check", GROW)
    assert code == 1
    assert f"✔ {GROW} solved" not in out
    assert "your test_kata.py differs from the course's" in out
    assert f"'kata reset --tests {GROW}' restores" in out
    assert _progress_of(course).status(GROW) == "failing"
    code, out, _ = kata("reset", GROW, "--tests")
    assert code == 0
    assert f"Reset {GROW}: test_kata.py restored as shipped." in out
    assert tests.read_text() == shipped
    (backup,) = (course / ".kata" / "backups" / GROW).iterdir()
    assert (backup / "test_kata.py").read_text() == "def test_ok():\n    assert True\n"


def test_a_deleted_test_file_is_not_solved_and_says_how_to_restore_it(kata, course):
    (course / "katas" / FIT / "test_kata.py").unlink()
    code, out, _ = kata("check", FIT)
    assert code == 1
    assert f"✘ {FIT}: its test_kata.py is missing, so the kata cannot count as solved." in out
    assert kata("reset", FIT, "--tests")[0] == 0
    assert kata("check", FIT)[0] == 0


def test_reset_tests_repairs_a_kata_toml_that_no_longer_loads(kata, course):
    meta = course / "katas" / GROW / "kata.toml"
    shipped = meta.read_text()
    meta.write_text("schema = [\n")
    code, out, _ = kata("reset", GROW, "--tests")
    assert code == 0, out
    assert meta.read_text() == shipped


def test_a_collection_error_is_a_failing_verdict_that_shows_the_error(kata, course):
    (course / "katas" / FIT / "test_mine.py").write_text("def test_mine(:\n")
    code, out, err = kata("check", FIT)
    assert code == 1, err
    assert "Interrupted" not in err
    assert f"✘ {FIT}: test_mine.py could not be collected: SyntaxError: invalid syntax" in out


ENDLESS = """\
import subprocess
import sys
from pathlib import Path


def train(seed=0):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    Path(__file__).with_name("child.pid").write_text(str(child.pid))
{stuck}
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="process groups and signals: Unix")
@pytest.mark.parametrize(
    ("stuck", "line"),
    [
        ("    while True:\n        pass", "train.py:9: while True:"),
        # A run that does not answer its alarm (here: it ignores it) is killed by the runner,
        # which finds the line in the run's stack dump.
        (
            "    import signal, time\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "    while True:\n        time.sleep(0.01)",
            "train.py:12: time.sleep(0.01)",
        ),
    ],
    ids=["alarm", "stack-dump"],
)
def test_an_endless_loop_stops_at_the_budget_with_the_learners_line_and_nothing_left(
    kata, course, stuck, line
):
    learner = course / "katas" / FIT / "train.py"
    learner.write_text(ENDLESS.format(stuck=stuck))
    started = time.monotonic()
    code, out, _ = kata("check", FIT, "--timeout", "2")
    took = time.monotonic() - started
    assert code == 1
    assert "train.py did not finish in 2 s" in out
    assert line in out
    # One block (pytest's short summary repeats the headline, untruncated where CI is set).
    shown = [line for line in out.splitlines() if not line.startswith("FAILED ")]
    assert "\n".join(shown).count("did not finish") == 1
    assert took < 2 + 5 + 0.5 + 20, took  # the budget, the grace, and a loaded machine's start
    pid = int((learner.parent / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "a process the kata started is still running"
    assert _progress_of(course).status(FIT) == "failing"


def test_a_timeout_must_be_positive(kata):
    code, _, err = kata("check", FIT, "--timeout", "0")
    assert code == 1
    assert "--timeout must be a number of seconds above 0, not 0." in err


def test_check_accepts_a_kata_path(kata, course):
    code, out, _ = kata("check", str(course / "katas" / FIT / "train.py"))
    assert code == 0
    assert f"✔ {FIT} solved" in out


def test_an_unknown_kata_suggests_the_closest_names_in_one_line(kata):
    code, out, err = kata("check", "day01/fit_a_lin")
    assert code == 1
    assert out == ""
    assert err.startswith("kata: error: No kata named 'day01/fit_a_lin'")
    assert f"Did you mean {FIT}?" in err
    assert err.strip().count("\n") == 0


def test_a_kata_with_malformed_metadata_is_named_with_its_file_and_field(kata, course):
    meta = course / "katas" / GROW / "kata.toml"
    meta.write_text(meta.read_text().replace('title = "Steps that grow"\n', ""))
    code, out, err = kata("check", GROW)
    assert code == 1
    assert f"{meta}: field 'title': missing." in err
    assert "Traceback" not in err
    code, out, err = kata("list")
    assert code == 1
    assert "broken metadata" in out and FIT in out
    assert "1 kata(s) have broken metadata" in err


# -- hint ---------------------------------------------------------------------------------------
def test_hints_climb_the_ladder_and_are_remembered(kata, course):
    code, out, _ = kata("hint", GROW)
    assert code == 0
    assert f"Hint 1 of 3 for {GROW}: What is in .grad" in out
    assert "Hint 2 of 3: backward() adds to .grad" not in out
    assert "Hint 2 of 3" in kata("hint", GROW)[1]
    assert _progress_of(course).hints_used(GROW) == 2
    out = kata("hint", GROW)[1]
    assert "Hint 3 of 3" in out and "once more shows the fix" in out
    out = kata("hint", GROW)[1]  # the last rung: the diagnosis' fix for the code as it is
    assert "Hint " not in out
    assert f"Fix (error grad-accumulation at katas/{GROW}/train.py:" in out
    assert "zero_grad()" in out
    assert _progress_of(course).hints_used(GROW) == 3


def test_hint_all_shows_the_whole_ladder(kata, course):
    code, out, _ = kata("hint", GROW, "--all")
    assert code == 0
    for number in (1, 2, 3):
        assert f"Hint {number} of 3: " in out
    assert _progress_of(course).hints_used(GROW) == 3


# -- solution -----------------------------------------------------------------------------------
def test_the_solution_stays_hidden_until_solved_unless_forced(kata):
    code, out, err = kata("solution", GROW)
    assert code == 1
    assert f"{GROW} is not solved yet" in err and "--force" in err
    code, out, _ = kata("solution", GROW, "--force")
    assert code == 0
    assert "+        optimizer.zero_grad()" in out
    assert "(yours)" in out and "(reference)" in out


def test_the_solution_of_a_kata_solved_like_the_reference_says_so(kata, course):
    _mark(course, FIT)
    code, out, _ = kata("solution", FIT)
    assert code == 0
    assert "Your train.py is the reference solution, line for line." in out


# -- reset --------------------------------------------------------------------------------------
def test_reset_restores_the_shipped_file_and_keeps_the_learners_version(kata, course):
    learner = course / "katas" / GROW / "train.py"
    shipped = course / "solutions" / GROW / "shipped" / "train.py"
    learner.write_text("# my work in progress\n")
    code, out, _ = kata("reset", GROW)
    assert code == 0
    assert learner.read_text() == shipped.read_text()
    backups = list((course / ".kata" / "backups" / "day01" / "02_steps_that_grow").iterdir())
    assert len(backups) == 1
    assert (backups[0] / "train.py").read_text() == "# my work in progress\n"
    assert f"Your version is kept in .kata/backups/day01/02_steps_that_grow/{backups[0].name}/" in (
        out
    )


def test_reset_twice_keeps_both_backups(kata, course):
    learner = course / "katas" / GROW / "train.py"
    for attempt in ("first", "second"):
        learner.write_text(f"# {attempt}\n")
        assert kata("reset", GROW)[0] == 0
    folder = course / ".kata" / "backups" / "day01" / "02_steps_that_grow"
    kept = sorted((b / "train.py").read_text() for b in folder.iterdir())
    assert kept == ["# first\n", "# second\n"]


def test_reset_of_an_untouched_kata_changes_nothing(kata, course):
    code, out, _ = kata("reset", GROW)
    assert code == 0
    assert "already as shipped" in out
    assert not (course / ".kata" / "backups").exists()


def test_reset_without_a_shipped_copy_refuses_and_touches_nothing(kata, course):
    shutil.rmtree(course / "solutions" / GROW / "shipped")
    learner = course / "katas" / GROW / "train.py"
    learner.write_text("# mine\n")
    code, _, err = kata("reset", GROW)
    assert code == 1
    assert "its shipped copy is missing" in err and f"kata ship {GROW}" in err
    assert learner.read_text() == "# mine\n"


# -- the progress file --------------------------------------------------------------------------
def test_a_corrupt_progress_file_is_reported_in_one_line_and_rebuilt(kata, course):
    path = course / ".kata" / "progress.json"
    path.parent.mkdir()
    path.write_text("{ not json")
    code, out, err = kata("list")
    assert code == 0
    assert err.startswith("kata: warning: The progress file")
    assert err.strip().count("\n") == 0
    assert json.loads(path.read_text())["katas"] == {}
    assert path.with_name("progress.json.corrupt").read_text() == "{ not json"
    assert "not tried  day01/01_fit_a_line" in out


# -- new, ship, validate --------------------------------------------------------------------------
def test_new_scaffolds_a_kata_says_what_to_fill_in_and_never_overwrites(kata, course):
    code, out, _ = kata("new", "1", "lr-too-high")
    assert code == 0
    folder = course / "katas" / "day01" / "04_lr_too_high"
    for name in ("kata.toml", "train.py", "test_kata.py"):
        assert (folder / name).is_file()
    assert (course / "solutions/day01/04_lr_too_high/train.py").is_file()
    assert (course / "solutions/day01/04_lr_too_high/shipped/train.py").is_file()
    assert "Fill in katas/day01/04_lr_too_high/kata.toml" in out
    assert "kata validate day01/04_lr_too_high" in out

    (folder / "train.py").write_text("# the author's work\n")
    code, _, err = kata("new", "day01", "lr_too_high")
    assert code == 1
    assert "A kata named 'lr_too_high' already exists" in err
    assert (folder / "train.py").read_text() == "# the author's work\n"


def test_new_on_a_new_day_creates_the_day_and_asks_for_its_lesson(kata, course):
    code, out, _ = kata("new", "day02", "first")
    assert code == 0
    assert (course / "katas" / "day02" / "01_first" / "kata.toml").is_file()
    assert "Write the day's lesson in katas/day02/README.md" in out


def test_new_refuses_a_bad_slug(kata):
    code, _, err = kata("new", "1", "Bad Slug!")
    assert code == 1
    assert "SLUG must be lower-case letters" in err


def test_validate_without_running_finds_template_text_stray_files_and_stale_copies(kata, course):
    assert kata("new", "1", "draft")[0] == 0
    (course / "katas" / GROW / "notes.txt").write_text("scratch")
    code, out, err = kata("validate", "--no-run")
    assert code == 1
    assert "katas/day01/04_draft/kata.toml: field 'title': still the template's text" in out
    assert f"katas/{GROW}/notes.txt: stray file" in out
    # 01 is solved in the learner's copy, 03 has a syntax error: both differ from shipped.
    assert f"katas/{FIT}/train.py: identical to its solution" in out
    assert f"katas/{SYNTAX}/train.py differs from its shipped copy" in out
    assert "have problems" in err


def test_validate_runs_each_kata_broken_and_solved_and_names_a_wrong_code(kata, course):
    for kata_id in (FIT, SYNTAX):
        assert kata("reset", kata_id)[0] == 0
    code, out, err = kata("validate", "--seeds", "1")
    assert code == 0, out + err
    assert "All 3 kata(s) are valid" in out

    meta = course / "katas" / GROW / "kata.toml"
    meta.write_text(meta.read_text().replace('["grad-accumulation"]', '["adam-weight-decay"]'))
    code, out, _ = kata("validate", GROW, "--seeds", "1")
    assert code == 1
    assert (
        f"{meta}: field 'codes': declares ['adam-weight-decay'], but the broken run with seed 0 "
        "reports ['grad-accumulation']"
    ) in out


def test_ship_records_the_tests_and_kata_toml_and_validate_finds_a_stale_record(kata, course):
    tests = course / "katas" / GROW / "test_kata.py"
    tests.write_text(tests.read_text() + "# a stricter test, not shipped yet\n")
    code, out, _ = kata("validate", GROW, "--no-run")
    assert code == 1
    assert f"katas/{GROW}/test_kata.py differs from its shipped copy" in out
    assert kata("ship", GROW)[0] == 0
    shipped = course / "solutions" / GROW / "shipped"
    assert (shipped / "test_kata.py").read_text() == tests.read_text()
    assert (shipped / "kata.toml").read_text() == (tests.parent / "kata.toml").read_text()
    assert kata("validate", GROW, "--no-run")[0] == 0


def test_ship_records_the_current_files_as_shipped(kata, course):
    learner = course / "katas" / GROW / "train.py"
    learner.write_text(learner.read_text() + "# edited by the author\n")
    code, _, _ = kata("ship", GROW)
    assert code == 0
    assert (
        (course / "solutions" / GROW / "shipped" / "train.py")
        .read_text()
        .endswith("# edited by the author\n")
    )


# -- every command ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert f"usage: kata {command}" in capsys.readouterr().out


def test_no_command_prints_the_overview(capsys):
    assert main([]) == 2
    assert "kata list" not in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "watch" in capsys.readouterr().out


def test_outside_a_course_kata_says_how_to_point_at_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["list"]) == 1
    assert "No course found" in capsys.readouterr().err


# -- the real command, in a process of its own ---------------------------------------------------
def _command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "kata.cli", *argv]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    return env


def test_kata_runs_as_a_command(course):
    done = subprocess.run(
        _command("list", "--root", str(course)), capture_output=True, text=True, env=_env(),
        cwd=PROJECT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"not tried  {FIT}" in done.stdout


def test_without_fork_each_run_is_a_subprocess_with_the_same_verdict(course):
    output: list[str] = []
    runner = Runner(echo=output.append)
    runner.can_fork = False  # as on Windows
    kata_dir = course / "katas" / GROW
    result = runner.run(pytest_args([kata_dir], root=course, record_progress=False), report=True)
    assert result.exit_code == 1
    assert result.katas[GROW]["codes"] == ["grad-accumulation"]
    assert "Kata day01/02_steps_that_grow: Steps that grow" in "".join(output)


def test_ctrl_c_stops_watch_with_one_line_and_no_traceback(course):
    proc = subprocess.Popen(
        _command("watch", GROW, "--root", str(course)), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=_env(), cwd=PROJECT,
    )  # fmt: skip
    try:
        seen = []
        for line in proc.stdout:  # the first verdict, then the watch waits for a save
            seen.append(line)
            if "still failing" in line:
                break
        assert any("still failing" in line for line in seen), "".join(seen)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Stopped watching" in err
    assert "Traceback" not in err
    assert (course / "katas" / GROW / "train.py").read_text() == (
        course / "solutions" / GROW / "shipped" / "train.py"
    ).read_text()


def _watch_until_fixed(course: Path, fix: Callable[[], None]) -> tuple[int, str, str]:
    """Run ``kata watch GROW`` in its own process (what it does never reaches the test worker;
    a fork of it, started as a fresh process would be: tests/_forked.py): ``fix`` runs once its
    first verdict is out; returns (exit code, stdout, stderr)."""
    proc = ForkedCommand("kata.cli", "watch", GROW, "--root", str(course), env=_env(), cwd=PROJECT)
    try:
        seen = []
        assert proc.stdout is not None
        for line in proc.stdout:  # the first verdict, then the watch waits for a save
            seen.append(line)
            if "still failing" in line or "could not be collected" in line:
                break
        time.sleep(0.3)
        fix()
        rest, err = proc.communicate(timeout=240)
    finally:
        proc.kill()
    return proc.returncode, "".join(seen) + rest, err


def test_watch_reruns_on_save_and_moves_on_when_the_kata_passes(course):
    _mark(course, FIT, SYNTAX)
    learner = course / "katas" / GROW / "train.py"
    solution = (course / "solutions" / GROW / "train.py").read_text()
    code, out, err = _watch_until_fixed(course, lambda: learner.write_text(solution))
    assert code == 0, err
    assert f"✘ {GROW} still failing" in out
    assert f"✔ {GROW} solved" in out and "after your save" in out
    assert "Every kata is solved" in out
    assert _progress_of(course).status(GROW) == "solved"


def test_watch_goes_on_watching_after_a_collection_error(course):
    _mark(course, FIT, SYNTAX)
    broken = course / "katas" / GROW / "test_mine.py"
    broken.write_text("def test_mine(:\n")
    learner = course / "katas" / GROW / "train.py"
    solution = (course / "solutions" / GROW / "train.py").read_text()

    def repair() -> None:
        broken.unlink()
        learner.write_text(solution)

    code, out, err = _watch_until_fixed(course, repair)
    assert code == 0, err
    assert "test_mine.py could not be collected: SyntaxError" in out
    assert f"✔ {GROW} solved" in out


# -- blind mode, the fix as the last rung, after solving ------------------------------------------
def test_check_blind_withholds_the_diagnosis_and_a_blind_solve_is_marked(kata, course):
    code, out, _ = kata("check", GROW, "--blind")
    assert code == 1
    assert "grad-accumulation" not in out and "Hint" not in out
    assert "Run it again: pytest katas/day01/02_steps_that_grow --kata-blind" in out
    code, out, _ = kata("check", FIT, "--blind")
    assert code == 0
    assert f"✔ {FIT} solved blind" in out
    assert f"{FIT} solved blind. The diagnosis withheld was:" in out
    assert "error grads-cleared-before-step: " in out
    assert _progress_of(course).solved_blind(FIT)
    assert f"solved blind  {FIT}" in kata("list")[1]


def test_a_kata_solved_with_its_diagnosis_shown_is_listed_as_solved(kata, course):
    assert kata("check", FIT)[0] == 0
    assert not _progress_of(course).solved_blind(FIT)
    assert f"solved     {FIT}" in kata("list")[1]


def test_hint_all_ends_the_ladder_with_the_fix(kata, course):
    code, out, _ = kata("hint", GROW, "--all")
    assert code == 0
    assert out.index("Hint 3 of 3: ") < out.index("Fix (error grad-accumulation at ")


def test_the_last_rung_of_a_kata_that_passes_says_there_is_nothing_to_fix(kata, course):
    code, out, _ = kata("hint", FIT, "--all")
    assert code == 0
    assert f"{FIT} passes as it is: nothing left to fix." in out


def test_after_solving_check_asks_the_interview_question_and_says_where_the_answer_is(kata):
    code, out, _ = kata("check", FIT)
    assert code == 0
    assert "Interview question: Where does optimizer.zero_grad() go in a training step" in out
    assert f"[interview] answer in katas/{FIT}/kata.toml" in out
    assert "Your fix is the reference solution's, line for line." in out


def test_after_solving_with_another_fix_check_shows_the_diff_to_the_reference(kata, course):
    learner = course / "katas" / GROW / "train.py"
    text = learner.read_text()
    fixed = text.replace("loss.backward()", "model.zero_grad()\n        loss.backward()", 1)
    assert fixed != text
    learner.write_text(fixed)
    code, out, _ = kata("check", GROW)
    assert code == 0, out
    assert "Your fix differs from the reference solution" in out
    assert "-        model.zero_grad()" in out and "+        optimizer.zero_grad()" in out


# -- colour and width in a real terminal ----------------------------------------------------------
def _in_a_terminal(argv: list[str], env: dict[str, str], columns: int) -> str:
    """Run ``argv`` (``python -m MODULE ARGS``) with a pseudo-terminal ``columns`` wide as its
    stdin, stdout and stderr, in a fork of this process (tests/_forked.py)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    python, dash_m, module, *args = argv
    assert (python, dash_m) == (sys.executable, "-m"), argv
    proc = ForkedCommand(
        module, *args, env=env, cwd=PROJECT, stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    proc.wait(timeout=300)
    return b"".join(chunks).decode("utf-8", "replace")


_COLOUR = re.compile(r"\x1b\[(3[0-7]|9[0-7]|38;)")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="pseudo-terminals: Unix")
def test_in_a_terminal_no_color_means_no_colour_and_panels_fit_its_width(course):
    env = _env()
    env.pop("COLUMNS", None)
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    out = _in_a_terminal(_command("check", GROW, "--root", str(course)), env, columns=60)
    assert "grad-accumulation" in out
    assert not _COLOUR.search(out), repr(out[:300])
    panels = [line for line in out.splitlines() if line.startswith(("╭", "│", "╰"))]
    assert panels and max(len(line.rstrip()) for line in panels) == 60


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="pseudo-terminals: Unix")
def test_in_a_terminal_colour_is_on_and_force_color_turns_it_on_in_a_pipe(course):
    env = _env()
    env.pop("NO_COLOR", None)
    env.pop("FORCE_COLOR", None)
    out = _in_a_terminal(_command("check", GROW, "--root", str(course)), env, columns=100)
    assert _COLOUR.search(out)
    piped = run_forked("kata.cli", "check", GROW, "--root", str(course), env=env, cwd=PROJECT)
    assert not _COLOUR.search(piped.stdout)
    env["FORCE_COLOR"] = "1"
    forced = run_forked("kata.cli", "check", GROW, "--root", str(course), env=env, cwd=PROJECT)
    assert _COLOUR.search(forced.stdout)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="pseudo-terminals: Unix")
def test_pytest_in_a_narrow_terminal_draws_panels_its_width(course):
    env = _env()
    env.pop("COLUMNS", None)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    argv = [sys.executable, "-m", "pytest", "-p", "kata.plugin.hooks", "-p", "no:cacheprovider",
            "--kata-no-progress", str(course / "katas" / GROW)]  # fmt: skip
    out = _in_a_terminal(argv, env, columns=64)
    panels = [line for line in out.splitlines() if line.startswith(("╭", "│", "╰"))]
    assert panels and max(len(line.rstrip()) for line in panels) == 64, out[-2000:]


_AFTER_A_COMPILED_BACKWARD = """
import json, multiprocessing, sys
import torch
from torch import nn
from kata.running.runner import Runner, pytest_args

# The process's first backward is a compiled one: that is what starts autograd's worker threads.
compiled = torch.compile(nn.Linear(2, 1), backend="aot_eager")
compiled(torch.randn(3, 2)).sum().backward()

def _backward():
    torch.ones(1, requires_grad=True).sum().backward()

child = multiprocessing.get_context("fork").Process(target=_backward)
child.start()
child.join()
runner = Runner(echo=lambda _text: None)
course, kata = sys.argv[1], sys.argv[2]
result = runner.run(pytest_args([kata], root=course, record_progress=False), report=True)
print(json.dumps({"fork_backward_works": child.exitcode == 0, "can_fork": runner.can_fork,
                  "exit_code": result.exit_code, "katas": result.katas}))
"""


def test_a_process_whose_autograd_threads_started_still_gets_the_right_verdict(course):
    # After a compiled backward torch may refuse backward() in a forked child; the runner must
    # notice and run each kata in a subprocess. A fresh process, so no earlier test's backward
    # decides whether the threads start.
    kata_dir = course / "katas" / GROW
    argv = [sys.executable, "-c", _AFTER_A_COMPILED_BACKWARD, str(course), str(kata_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=course)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["can_fork"] == seen["fork_backward_works"]
    assert seen["exit_code"] == 1
    assert seen["katas"][GROW]["codes"] == ["grad-accumulation"]
