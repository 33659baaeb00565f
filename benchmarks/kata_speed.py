"""Wall time of each day's katas, broken (as shipped) and solved, under `pytest -n auto`.

    python benchmarks/kata_speed.py [day11 day12 ...]

Each figure is the wall time of one real `python -m pytest katas/DAY -n auto` command, torch
import and worker start-up included, as a learner would see it. The target is under 20 s per day
on 2 cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 20.0


def run(day: str, solved: bool) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "pytest", f"katas/{day}", "-n", "auto", "-q", "-p", "no:randomly"]
    if solved:
        cmd.append("--kata-solution")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
    return elapsed, tail


def main() -> None:
    days = sys.argv[1:] or sorted(p.name for p in (ROOT / "katas").glob("day*") if p.is_dir())
    print(f"{os.cpu_count()} CPU cores; target < {TARGET_S:.0f} s per day")
    for day in days:
        for solved in (False, True):
            elapsed, tail = run(day, solved)
            variant = "solved " if solved else "shipped"
            flag = "ok" if elapsed < TARGET_S else "SLOW"
            print(f"{day} {variant} {elapsed:6.1f} s  {flag}   ({tail})")


if __name__ == "__main__":
    main()
