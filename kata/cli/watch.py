"""``kata watch``: re-run the current kata on every save, move on when it passes.

Feedback has to feel instant, so this process imports torch, the diagnostics and pytest
once and each run is a fork of it (see kata/running/runner.py): a save reaches its verdict in
the time the kata's own tests take, plus a few tens of milliseconds, instead of paying a fresh
interpreter and torch's import every time. benchmarks/watch_latency.py measures it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import watchfiles
from rich.console import Console

from kata.course.course import Course
from kata.course.meta import META_FILE, TEST_FILE, KataMeta
from kata.running.runner import Runner, RunResult
from kata.running.verdict import TIMED_OUT, judge

from .learn import kata_to_run, raw_writer, run_kata

__all__ = ["run_watch"]

STOPPED = "Stopped watching. Your files are saved as they are; 'kata watch' picks up from here."
# Yield changes once the files have been quiet this long: an editor's save is one burst of
# events a few milliseconds long, and every millisecond here is felt as lag.
_QUIET_MS = 30


def run_watch(args: argparse.Namespace, out: Console, err: Console) -> int:
    args.interrupt_message = STOPPED
    chosen = kata_to_run(args, out, err)
    if chosen is None:
        return 0
    course, first = chosen
    runner = Runner(echo=raw_writer(out))
    with out.status("Starting: importing torch once, so that every run starts warm..."):
        runner.warm()
    meta: KataMeta | None = first
    while meta is not None:
        _watch_until_solved(course, meta, runner, out, seed=args.seed, timeout=args.timeout)
        meta = course.next_after(meta, course.progress())
        if meta is not None:
            out.print(f"\nMoving on to {meta.id}: {meta.title}", style="bold")
    out.print("Every kata is solved. Well done! Try 'kata drill' for interview practice.")
    return 0


def _watch_until_solved(
    course: Course,
    meta: KataMeta,
    runner: Runner,
    out: Console,
    *,
    seed: int,
    timeout: float | None,
) -> None:
    """Run the kata now and after every save of its files, until it passes."""
    watched = [meta.dir / name for name in (*meta.files, TEST_FILE, META_FILE)]
    names = {path.name for path in watched}

    def run() -> RunResult:
        return run_kata(runner, course, meta, seed=seed, timeout=timeout, color=out)

    saves = None
    saved_at = None
    try:
        while True:
            started = time.time()
            if _run(meta, run, course, out, saved_at=saved_at):
                return
            if saves is None:
                # A save during the first run came before the watcher: catch it by its time.
                newest = max(filter(None, map(_mtime, watched)), default=0.0)
                if newest >= started:
                    saved_at = newest
                    continue
                saves = watchfiles.watch(
                    meta.dir,
                    watch_filter=lambda _change, path: _watched(Path(path).name, names),
                    step=_QUIET_MS,
                    debounce=1000,
                )
            changes = next(saves)
            stamps = [t for _change, path in changes if (t := _mtime(path)) is not None]
            saved_at = max(stamps, default=None)
    finally:
        if saves is not None:
            saves.close()


def _run(
    meta: KataMeta,
    run: Callable[[], RunResult],
    course: Course,
    out: Console,
    *,
    saved_at: float | None,
) -> bool:
    out.rule(f"{meta.id}: {meta.title}")
    result = run()
    verdict = judge(meta, result)
    lag = (
        f"{time.time() - saved_at:.2f} s after your save"
        if saved_at
        else (f"in {result.seconds:.2f} s")
    )
    if verdict.solved:
        out.print(f"✔ {meta.id} solved ({lag}).", style="green")
        return True
    if verdict.reason:
        out.print(f"✘ {meta.id}: {verdict.reason}", style="red", markup=False)
    still = "ran out of time" if verdict.status == TIMED_OUT else "still failing"
    out.print(f"✘ {meta.id} {still} ({lag}).", style="red")
    learner_file = course.relative(meta.dir / meta.files[0])
    out.print(
        f"Save {learner_file} to run it again; 'kata hint {meta.id}' for a hint; Ctrl-C stops.",
        style="dim",
    )
    return False


def _watched(name: str, names: set[str]) -> bool:
    """The kata's files, and any test file of the learner's own (to see a fix of its error)."""
    return name in names or (name.startswith("test_") and name.endswith(".py"))


def _mtime(path: str | Path) -> float | None:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return None
