"""Run a kata's tests over several versions of its files, in a process of its own.

    python _driver.py --serve

reads one request a line on stdin, the JSON list ``[PLAN_PATH, RESULTS_PATH]``, runs it, and
answers one line on stdout, ``done`` or ``error: ...``. One server serves every kata a test
worker checks, so torch is imported once per worker rather than once per kata (2.7 s of CPU
each).

PLAN lists pytest runs: ``[{"seed": 0, "variants": {"wrong-x": "/tmp/.../katas/day12/01_x"},
"stop_early": ["wrong-x"]}, ...]``. Each run is one ``pytest.main`` with the kata plugin and
``--kata-no-gate``, so a test passes or fails by its own asserts alone. A variant listed in
``stop_early`` skips its remaining tests once one has failed (a wrong fix needs only one failing
test). RESULTS receives one record per test outcome: variant, seed, test, outcome, the exception's
type name and the start of the failure message.

A process apart from the tests', as tests/test_katas.py explains: torch cannot be imported twice
into one interpreter, which pytester's in-process runs would do. Learner modules get a fresh
name at each load, so the runs do not see each other.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from pathlib import Path
from typing import Any

import pytest

MESSAGE_CHARS = 1200


class Recorder:
    def __init__(self, seed: int, variants: dict[str, str], stop_early: list[str]) -> None:
        self.seed = seed
        self.dirs = {Path(d).resolve(): v for v, d in variants.items()}
        self.stop_early = set(stop_early)
        self.failed: set[str] = set()
        self.records: list[dict[str, Any]] = []

    def variant_of(self, item: pytest.Item) -> str:
        return self.dirs.get(Path(item.path).resolve().parent, "?")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        variant = self.variant_of(item)
        if variant in self.stop_early and variant in self.failed:
            pytest.skip("an earlier test of this variant already failed")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
        outcome = yield
        report = outcome.get_result()
        if report.skipped and call.when == "setup":
            return
        if not (report.failed or call.when == "call"):
            return
        variant = self.variant_of(item)
        if report.failed:
            self.failed.add(variant)
        self.records.append(
            {
                "variant": variant,
                "seed": self.seed,
                "test": item.name,
                "when": call.when,
                "outcome": report.outcome,
                "exception": call.excinfo.typename if call.excinfo else None,
                "duration": round(report.duration, 3),
                "message": report.longreprtext[:MESSAGE_CHARS] if report.failed else "",
            }
        )


def run(plan_path: str, results_path: str) -> str | None:
    """Run a plan; None when done, else what went wrong."""
    plan = json.loads(Path(plan_path).read_text())
    records: list[dict[str, Any]] = []
    for step in plan:
        recorder = Recorder(step["seed"], step["variants"], step["stop_early"])
        args = [
            *step["variants"].values(),
            "-p", "kata.plugin.hooks", "-p", "no:cacheprovider", "--import-mode=importlib",
            "-q", "--tb=no", "--no-header", "--kata-no-gate", "--kata-no-progress",
            "--kata-seed", str(step["seed"]),
        ]  # fmt: skip
        # What earlier runs left (torch, its compiler's modules) is out of the garbage
        # collector's reach: pytest collects at the end of every run, and walking those
        # objects took a tenth of a second each time (kata/running/runner.py does the same).
        gc.freeze()
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the answers
            code = pytest.main(args, plugins=[recorder])
        if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return f"pytest exited with {code!r} for seed {step['seed']}"
        records += recorder.records
    Path(results_path).write_text(json.dumps(records, indent=1))
    return None


def serve() -> int:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            problem = run(*json.loads(line))
        except Exception as exc:  # the next kata still gets served
            problem = f"{type(exc).__name__}: {exc}"
        answer = "done" if problem is None else "error: " + " ".join(problem.split())
        print(answer, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(serve())
