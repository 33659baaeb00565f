"""How long from saving a kata's file to seeing the verdict, with ``kata watch``.

Starts ``kata watch`` on a copy of one kata (by default the course's first), waits for its
first verdict, then saves the learner's file several times (appending a comment, so the kata
stays broken) and times each save until the verdict line appears. For comparison it times a
cold ``python -m pytest`` of the same kata, the run a watcher without a warm process would
start on every save (not counting the time to notice the save).

    python benchmarks/watch_latency.py [--kata day11/01] [--saves 7] [--cold 3]

The figures depend on the machine and its load; the warm figure is the kata's own test time
plus what ``kata watch`` adds (noticing the save, forking, pytest's start, the verdict).
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kata.course.meta import discover, find  # noqa: E402
from kata.running.runner import ENV, pytest_args  # noqa: E402

_VERDICT = re.compile(r"^[✔✘] \S+ (still failing|solved|: the test run stopped)")
_PYTEST_TIME = re.compile(r" in (\d+(?:\.\d+)?)s")


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **ENV)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _copy_kata(course: Path, kata_name: str | None, into: Path) -> tuple[str, Path]:
    """Copy one kata and its solution folder into a scratch course; (kata id, its folder)."""
    meta = find(course, kata_name) if kata_name else discover(course)[0]
    for part in ("katas", "solutions"):
        source = course / part / meta.day_name / meta.name
        if source.is_dir():
            shutil.copytree(source, into / part / meta.day_name / meta.name)
    return meta.id, into / "katas" / meta.day_name / meta.name


def _reader(stream, lines: queue.Queue) -> None:  # type: ignore[no-untyped-def]
    for line in stream:
        lines.put((time.perf_counter(), line))
    lines.put((time.perf_counter(), None))


def _next_verdict(lines: queue.Queue, timeout: float) -> tuple[float, str, float | None]:
    """(arrival time, verdict line, pytest's own duration of that run)."""
    deadline = time.monotonic() + timeout
    pytest_seconds = None
    while True:
        arrived, line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        if line is None:
            raise RuntimeError("kata watch ended before giving a verdict")
        found = _PYTEST_TIME.search(line)
        if found and ("failed" in line or "passed" in line):
            pytest_seconds = float(found.group(1))
        if _VERDICT.match(line):
            return arrived, line.strip(), pytest_seconds


def measure_warm(root: Path, kata_id: str, learner: Path, saves: int) -> tuple[list, list]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kata.cli", "watch", kata_id, "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    latencies, test_times = [], []
    try:
        _, first, _ = _next_verdict(lines, timeout=600)
        print(f"  first verdict: {first}")
        for number in range(1, saves + 1):
            time.sleep(0.5)  # a pause between saves, as when editing
            with learner.open("a", encoding="utf-8") as fh:
                fh.write(f"# save {number}\n")
            saved = time.perf_counter()
            arrived, verdict, pytest_seconds = _next_verdict(lines, timeout=600)
            latencies.append(arrived - saved)
            test_times.append(pytest_seconds)
            print(f"  save {number}: {arrived - saved:.3f} s  ({verdict})")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return latencies, [t for t in test_times if t is not None]


def measure_cold(root: Path, kata_dir: Path, runs: int) -> list[float]:
    args = pytest_args([kata_dir], root=root, record_progress=False)
    times = []
    for number in range(1, runs + 1):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", *args],
            capture_output=True,
            env=_env(),
            cwd=ROOT,
            check=False,
        )
        times.append(time.perf_counter() - started)
        print(f"  run {number}: {times[-1]:.3f} s")
    return times


def _summary(values: list[float]) -> str:
    if not values:
        return "no data"
    return (
        f"median {statistics.median(values):.3f} s "
        f"(min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the course (default: this repo)")
    parser.add_argument("--kata", default=None, help="the kata (default: the course's first)")
    parser.add_argument("--saves", type=int, default=7, help="saves timed (default 7)")
    parser.add_argument("--cold", type=int, default=3, help="cold runs timed (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kata-latency-") as tmp:
        scratch = Path(tmp)
        kata_id, kata_dir = _copy_kata(args.root, args.kata, scratch)
        learner = kata_dir / "train.py"
        print(f"kata watch on {kata_id} ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
        warm, test_times = measure_warm(scratch, kata_id, learner, args.saves)
        print("cold: python -m pytest on the same kata, a fresh process per run")
        cold = measure_cold(scratch, kata_dir, args.cold)
    print()
    print(f"save -> verdict, kata watch (warm fork): {_summary(warm)}")
    print(f"  of which the kata's tests, as pytest reports them: {_summary(test_times)}")
    print(f"run -> verdict, cold subprocess:         {_summary(cold)}")
    if warm and cold:
        ratio = statistics.median(cold) / statistics.median(warm)
        print(f"the warm watch is {ratio:.1f}x faster than a cold run per save")


if __name__ == "__main__":
    main()
