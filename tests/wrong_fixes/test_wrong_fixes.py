"""Wrong fixes fail, right fixes pass: every kata's tests check what the lesson teaches.

For each kata, the fixes catalogued in tests/wrong_fixes/dayNN/NN_slug.toml are applied to the
kata as shipped, and the kata's own tests run on each version with the diagnosis gate off
(``--kata-no-gate``): a wrong fix must fail one of them, with an assertion (not a crash of the
edit itself), for every seed 0..N-1 (``--course-seeds N``: 1 by default, 3 in CI); a right
fix and the reference solution must pass them all with seed 0. Every version is a temporary
copy of the kata; one driver process per test worker runs them (tests/wrong_fixes/_driver.py).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kata.course.meta import kata_dirs
from kata.course.shipped import shipped_file
from tests.wrong_fixes._catalogue import MIN_WRONG, Fix, fix_files, kata_dir_of, load

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "_driver.py"
# A right fix and the solution pass with seed 0, the learner's default: tests/test_katas.py
# runs the solution with every seed already, and the time budget of this module is ~90 s.
RIGHT_SEEDS = (0,)
RUN_TIMEOUT_S = 600  # a safety net only

FIX_FILES = [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in fix_files()]


def test_every_kata_has_at_least_two_wrong_fixes():
    missing, few = [], []
    for kata_dir in kata_dirs(REPO):
        path = Path(__file__).parent / kata_dir.parent.name / f"{kata_dir.name}.toml"
        if not path.is_file():
            missing.append(str(path.relative_to(REPO)))
            continue
        _, fixes = load(path, REPO)
        wrong = [f for f in fixes if f.kind == "wrong"]
        if len(wrong) < MIN_WRONG:
            few.append(f"{path.relative_to(REPO)} ({len(wrong)})")
    assert not missing and not few, (
        f"Every kata needs at least {MIN_WRONG} wrong fixes in tests/wrong_fixes/. "
        f"Missing files: {missing or 'none'}; too few wrong fixes: {few or 'none'}."
    )


@pytest.mark.parametrize("path", FIX_FILES)
def test_each_fix_applies_and_differs_from_both_ends(path):
    meta, fixes = load(path, REPO)
    assert kata_dir_of(path, REPO) == meta.dir
    for fix in fixes:
        text = fix.apply(meta)
        solution = (meta.solution_dir / fix.file).read_text()
        shipped = (meta.dir / fix.file).read_text()
        assert text != shipped, f"{fix.kind} fix {fix.name!r} of {meta.id} is the kata as shipped."
        assert text != solution, f"{fix.kind} fix {fix.name!r} of {meta.id} is the solution."
        compile(text, f"{fix.slug}/{fix.file}", "exec")


def _version(root: Path, meta: Any, name: str, files: dict[str, str]) -> Path:
    """A copy of the kata folder under root/name/katas/dayNN/NN_slug with the given files."""
    folder = root / name / "katas" / meta.day_name / meta.name
    folder.mkdir(parents=True)
    for extra in ("kata.toml", "test_kata.py"):
        shutil.copy2(meta.dir / extra, folder / extra)
    for file_name, text in files.items():
        (folder / file_name).write_text(text)
    return folder


def _files(meta: Any, base: str) -> dict[str, str]:
    if base == "solution":
        return {name: (meta.solution_dir / name).read_text() for name in meta.files}
    return {name: shipped_file(meta, name).read_text() for name in meta.files}


class _Server:
    """The driver process of this test worker: started at its first kata, kept for the next."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[str] | None = None

    def run(self, tmp_path: Path, plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
        plan_path, results_path = tmp_path / "plan.json", tmp_path / "results.json"
        plan_path.write_text(json.dumps(plan))
        proc = self._started()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps([str(plan_path), str(results_path)]) + "\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], RUN_TIMEOUT_S)
        answer = proc.stdout.readline().strip() if ready else ""
        if answer != "done" or not results_path.exists():
            if not ready:
                self.close()
            what = answer or ("no answer" if ready else f"no answer in {RUN_TIMEOUT_S} s")
            pytest.fail(
                f"The kata runs did not finish ({what}); the driver's output:\n"
                f"{self.log.read_text()[-4000:]}"
            )
        return json.loads(results_path.read_text())

    def _started(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            env = {
                **os.environ,
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                "PYTHONPATH": str(REPO),
                "OMP_NUM_THREADS": "1",
            }
            self.proc = subprocess.Popen(
                [sys.executable, str(DRIVER), "--serve"],
                cwd=self.log.parent, env=env, text=True, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self.log.open("a"),
            )  # fmt: skip
        return self.proc

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    server = _Server(tmp_path_factory.mktemp("wrong-fixes-driver") / "driver.log")
    try:
        yield server
    finally:
        server.close()


def _excerpt(message: str) -> str:
    lines = [line for line in message.splitlines() if line.strip()][:8]
    return "\n      ".join(lines)


def _judge(
    fix: Fix | None,
    name: str,
    records: list[dict[str, Any]],
    seeds: tuple[int, ...],
    test_count: int,
) -> list[str]:
    problems = []
    for seed in seeds:
        mine = [r for r in records if r["variant"] == name and r["seed"] == seed]
        failed = [r for r in mine if r["outcome"] == "failed"]
        if fix is None or fix.kind == "right":
            what = "the reference solution" if fix is None else f"right fix {fix.name!r}"
            passed = {r["test"] for r in mine if r["outcome"] == "passed"}
            for r in failed:
                problems.append(
                    f"{what} fails {r['test']} with seed {seed} ({r['exception']}):\n"
                    f"      {_excerpt(r['message'])}"
                )
            if not failed and len(passed) != test_count:
                problems.append(
                    f"{what} ran {len(passed)} of the {test_count} tests with seed {seed}."
                )
            continue
        expected = [r for r in failed if r["exception"] == fix.fails_with and r["when"] == "call"]
        if not failed:
            problems.append(
                f"wrong fix {fix.name!r} passes every test of the kata with seed {seed}: the "
                f"kata's tests do not see this mistake ({fix.why.strip()})"
            )
        elif not expected:
            got = ", ".join(f"{r['test']}: {r['exception']} at {r['when']}" for r in failed)
            problems.append(
                f"wrong fix {fix.name!r} fails with seed {seed}, but not with a {fix.fails_with} "
                f"raised by a test ({got}); is its edit itself broken?\n"
                f"      {_excerpt(failed[0]['message'])}"
            )
    return problems


@pytest.mark.parametrize("path", FIX_FILES)
def test_wrong_fixes_fail_the_kata_tests_and_right_fixes_pass(path, tmp_path, driver, pytestconfig):
    wrong_seeds = tuple(
        range(max(1, pytestconfig.getoption("--course-seeds")))
    )  # whatever the seed
    meta, fixes = load(path, REPO)
    versions = {"solution": _version(tmp_path, meta, "solution", _files(meta, "solution"))}
    for fix in fixes:
        files = _files(meta, fix.base)
        files[fix.file] = fix.apply(meta)
        versions[fix.slug] = _version(tmp_path, meta, fix.slug, files)
    wrong = [f.slug for f in fixes if f.kind == "wrong"]
    plan = [
        {
            "seed": seed,
            "variants": {
                name: str(folder)
                for name, folder in versions.items()
                if seed in (wrong_seeds if name in wrong else RIGHT_SEEDS)
            },
            "stop_early": wrong,
        }
        for seed in sorted({*wrong_seeds, *RIGHT_SEEDS})
    ]
    records = driver.run(tmp_path, plan)
    test_count = len({r["test"] for r in records if r["variant"] == "solution"})
    problems = _judge(None, "solution", records, RIGHT_SEEDS, test_count)
    for fix in fixes:
        seeds = wrong_seeds if fix.kind == "wrong" else RIGHT_SEEDS
        problems += _judge(fix, fix.slug, records, seeds, test_count)
    assert not problems, f"{meta.id} ({path.relative_to(REPO)}):\n  - " + "\n  - ".join(problems)
