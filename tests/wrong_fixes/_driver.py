"""Run one kata's tests over several versions of its files, in a process of its own.

    python _driver.py PLAN.json RESULTS.json

PLAN lists pytest runs: ``[{"seed": 0, "variants": {"wrong-x": "/tmp/.../katas/day12/01_x"},
"stop_early": ["wrong-x"]}, ...]``. Each run is one ``pytest.main`` with the kata plugin and
``--kata-no-gate``, so a test passes or fails by its own asserts alone. A variant listed in
``stop_early`` skips its remaining tests once one has failed (a wrong fix needs only one failing
test). RESULTS receives one record per test outcome: variant, seed, test, outcome, the exception's
type name and the start of the failure message.

A process of its own, as tests/test_katas.py explains: torch cannot be imported twice into one
interpreter, which pytester's in-process runs would do.
"""

from __future__ import annotations

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


def main(plan_path: str, results_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    records: list[dict[str, Any]] = []
    for run in plan:
        recorder = Recorder(run["seed"], run["variants"], run["stop_early"])
        args = [
            *run["variants"].values(),
            "-p", "kata.pytest_plugin", "-p", "no:cacheprovider", "--import-mode=importlib",
            "-q", "--tb=no", "--no-header", "--kata-no-gate", "--kata-no-progress",
            "--kata-seed", str(run["seed"]),
        ]  # fmt: skip
        code = pytest.main(args, plugins=[recorder])
        if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            print(f"pytest exited with {code!r} for seed {run['seed']}", file=sys.stderr)
            return 2
        records += recorder.records
    Path(results_path).write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
