"""The course check: every kata under katas/ is sound (also run as a CI job).

For each kata and each seed in SEEDS: as shipped its tests fail and diagnostics report exactly
the codes its kata.toml declares; with --kata-solution its tests pass with no error or warning
finding. Its metadata is complete, its folder holds no stray file, and its solution folder
holds exactly the declared files.

The katas run as the learner runs them, through pytest and the kata plugin: one pytest per
(variant, seed) over all katas at once, read back through --kata-report. The runs happen in
two processes, one per variant, side by side: not in this one, because pytester forgets the
modules torch imports lazily during a run, and torch fails when they are imported again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kata import load_meta
from kata._meta import kata_dirs
from kata._shipped import SHIPPED_DIR, differences

REPO = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2)
VARIANTS = ("learner", "solution")
ALLOWED_EXTRA = {"kata.toml", "test_kata.py", "README.md"}
IGNORED = {"__pycache__"}
RUN_TIMEOUT_S = 1800  # only a safety net against a kata that never ends

KATAS = [pytest.param(d, id=f"{d.parent.name}/{d.name}") for d in kata_dirs(REPO)] or [
    pytest.param(None, marks=pytest.mark.skip(reason="there is no kata under katas/dayNN/ yet"))
]


# One process per variant runs the seeds one after the other: torch is imported once per
# process, and learner modules get a fresh name at each load, so runs do not see each other.
_DRIVER = """
import sys, pytest
report, seeds, args = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
codes = [pytest.main([*args, "--kata-seed", s, "--kata-report", report.format(seed=s)])
         for s in seeds]
sys.exit(max(codes))
"""


def _run(variant: str, out: Path) -> dict[int, tuple[dict[str, Any] | None, str]]:
    """Pytest over every kata for each seed; per seed, its JSON report (or None) and output."""
    report = out / f"{variant}-seed{{seed}}.json"
    args = [
        "katas", "-p", "kata.pytest_plugin", "-q", "-p", "no:cacheprovider",
        "--kata-no-progress", "--tb=line", "--continue-on-collection-errors",
    ]  # fmt: skip
    if variant == "solution":
        args.append("--kata-solution")
    seeds = ",".join(map(str, SEEDS))
    # Only the plugins the katas need; one thread each, as a kata runs on one core.
    env = {
        **os.environ,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(report), seeds, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    output = done.stdout + done.stderr
    results = {}
    for seed in SEEDS:
        path = Path(str(report).format(seed=seed))
        if done.returncode not in (0, 1) or not path.exists():
            results[seed] = (None, f"pytest exited with {done.returncode}:\n{output[-4000:]}")
        else:
            results[seed] = (json.loads(path.read_text()), output)
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], Any]:
    """The reports of every (variant, seed) run, keyed by (variant, seed)."""
    out = tmp_path_factory.mktemp("course-check")
    workers = max(1, min(len(VARIANTS), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        by_variant = dict(zip(VARIANTS, pool.map(lambda v: _run(v, out), VARIANTS), strict=True))
    return {(v, seed): by_variant[v][seed] for v in VARIANTS for seed in SEEDS}


def _entry(runs: dict, variant: str, seed: int, kata_id: str) -> dict[str, Any]:
    report, output = runs[(variant, seed)]
    if report is None:
        pytest.fail(f"The {variant} run with seed {seed} did not finish: {output}")
    if kata_id not in report["katas"]:
        pytest.fail(f"{kata_id} did not run with seed {seed} ({variant}):\n{output[-4000:]}")
    return report["katas"][kata_id]


def _describe(entry: dict[str, Any]) -> str:
    tests = ", ".join(f"{name}: {outcome}" for name, outcome in entry["tests"].items())
    findings = "; ".join(
        f"{f['severity']} {f['code']} at {f['location']} ({f['test']})" for f in entry["findings"]
    )
    problem = f"\n  problem: {entry['problem']}" if entry["problem"] else ""
    return f"\n  tests: {tests}\n  findings: {findings or 'none'}{problem}"


@pytest.mark.parametrize("kata_dir", KATAS)
def test_the_kata_metadata_is_complete(kata_dir):
    load_meta(kata_dir)  # raises KataMetaError naming the file and the field


@pytest.mark.parametrize("kata_dir", KATAS)
def test_the_kata_folder_holds_no_stray_file(kata_dir):
    meta = load_meta(kata_dir)
    present = {p.name for p in kata_dir.iterdir()} - IGNORED
    stray = sorted(present - ALLOWED_EXTRA - set(meta.files))
    assert not stray, (
        f"{kata_dir} holds files that are neither kata.toml, test_kata.py, README.md nor "
        f"declared in 'files': {stray}. Declare them or remove them."
    )


@pytest.mark.parametrize("kata_dir", KATAS)
def test_the_solution_folder_holds_exactly_the_declared_files(kata_dir):
    meta = load_meta(kata_dir)
    folder = meta.solution_dir
    assert folder.is_dir(), f"{meta.id} has no solution folder {folder}."
    present = {p.name for p in folder.iterdir()} - IGNORED - {SHIPPED_DIR}
    assert present == set(meta.files), (
        f"{folder} should hold exactly {sorted(meta.files)} (and the {SHIPPED_DIR}/ copy); "
        f"it holds {sorted(present)}."
    )


@pytest.mark.parametrize("kata_dir", KATAS)
def test_the_shipped_copy_is_the_kata_as_shipped(kata_dir):
    problems = differences(load_meta(kata_dir))
    assert not problems, "\n".join(problems) + "\nRun 'kata ship' after changing a kata."


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kata_dir", KATAS)
def test_as_shipped_the_kata_fails_with_exactly_its_declared_codes(runs, kata_dir, seed):
    meta = load_meta(kata_dir)
    entry = _entry(runs, "learner", seed, meta.id)
    assert entry["problem"] is None, f"{meta.id} could not run: {entry['problem']}"
    assert not entry["solved"], (
        f"{meta.id} passes as shipped with seed {seed}: its tests do not catch the fault."
        + _describe(entry)
    )
    assert set(entry["codes"]) == set(meta.codes), (
        f"{meta.id} with seed {seed}: diagnostics report {entry['codes']}, kata.toml declares "
        f"{list(meta.codes)}." + _describe(entry)
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kata_dir", KATAS)
def test_the_solution_passes_without_any_error_or_warning_finding(runs, kata_dir, seed):
    meta = load_meta(kata_dir)
    entry = _entry(runs, "solution", seed, meta.id)
    failing = [f for f in entry["findings"] if f["severity"] in ("error", "warning")]
    assert not failing, f"The solution of {meta.id} has findings with seed {seed}." + _describe(
        entry
    )
    assert entry["solved"], f"The solution of {meta.id} fails with seed {seed}." + _describe(entry)
