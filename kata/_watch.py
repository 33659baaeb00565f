"""``kata watch``: re-run the current kata on every save, move on when it passes.

Feedback has to feel instant, so this process imports torch, the diagnostics and pytest
once and each run is a fork of it (see _runner): a save reaches its verdict in the time the
kata's own tests take, plus a few tens of milliseconds, instead of paying a fresh interpreter
and torch's import every time. benchmarks/watch_latency.py measures it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import watchfiles
from rich.console import Console

from ._cli_learn import _raw_writer, kata_or_first_unsolved, load_progress
from ._course import CommandError, Course
from ._meta import META_FILE, TEST_FILE, KataMeta
from ._runner import NO_TESTS, Runner, pytest_args

STOPPED = "Stopped watching. Your files are saved as they are; 'kata watch' picks up from here."
# Yield changes once the files have been quiet this long: an editor's save is one burst of
# events a few milliseconds long, and every millisecond here is felt as lag.
_QUIET_MS = 30


def run_watch(args: argparse.Namespace, out: Console, err: Console) -> int:
    args.interrupt_message = STOPPED
    course = Course.locate(args.root)
    progress = load_progress(course, err)
    meta = kata_or_first_unsolved(course, args.kata, progress)
    if meta is None:
        out.print("Every kata is solved. Well done! Try 'kata drill' for interview practice.")
        return 0
    runner = Runner(echo=_raw_writer(out))
    with out.status("Starting: importing torch once, so that every run starts warm..."):
        runner.warm()
    while meta is not None:
        _watch_until_solved(course, meta, runner, out, seed=args.seed)
        meta = course.next_after(meta, course.progress())
        if meta is not None:
            out.print(f"\nMoving on to {meta.id}: {meta.title}", style="bold")
    out.print("Every kata is solved. Well done! Try 'kata drill' for interview practice.")
    return 0


def _watch_until_solved(
    course: Course, meta: KataMeta, runner: Runner, out: Console, *, seed: int
) -> None:
    """Run the kata now and after every save of its files, until it passes."""
    watched = [meta.dir / name for name in (*meta.files, TEST_FILE, META_FILE)]
    names = {path.name for path in watched}
    args = pytest_args([meta.dir], root=course.root, seed=seed, color=out.is_terminal)
    saves = None
    saved_at = None
    try:
        while True:
            started = time.time()
            if _run(course, meta, runner, out, args, saved_at=saved_at):
                return
            if saves is None:
                # A save during the first run came before the watcher: catch it by its time.
                newest = max(filter(None, map(_mtime, watched)), default=0.0)
                if newest >= started:
                    saved_at = newest
                    continue
                saves = watchfiles.watch(
                    meta.dir,
                    watch_filter=lambda _change, path: Path(path).name in names,
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
    course: Course,
    meta: KataMeta,
    runner: Runner,
    out: Console,
    args: list[str],
    *,
    saved_at: float | None,
) -> bool:
    out.rule(f"{meta.id}: {meta.title}")
    result = runner.run(args)
    if result.exit_code == 2:
        raise KeyboardInterrupt
    if result.exit_code == NO_TESTS:
        raise CommandError(f"No test ran in {meta.dir}: its test_kata.py has no test function.")
    lag = (
        f"{time.time() - saved_at:.2f} s after your save"
        if saved_at
        else (f"in {result.seconds:.2f} s")
    )
    if result.passed:
        out.print(f"✔ {meta.id} solved ({lag}).", style="green")
        return True
    learner_file = course.relative(meta.dir / meta.files[0])
    if result.exit_code != 1:
        out.print(
            f"✘ {meta.id}: the test run stopped with pytest exit code "
            f"{result.exit_code} ({lag}); see above.",
            style="red",
        )
    else:
        out.print(f"✘ {meta.id} still failing ({lag}).", style="red")
    out.print(
        f"Save {learner_file} to run it again; 'kata hint {meta.id}' for a hint; Ctrl-C stops.",
        style="dim",
    )
    return False


def _mtime(path: str | Path) -> float | None:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return None
