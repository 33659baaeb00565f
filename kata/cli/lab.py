"""``kata lab``: the break-it lab, the outline's Advanced practice.

``kata lab DAY`` copies a working training loop of the day to ``lab/dayNN/train.py`` (never over
the learner's copy) and lists the day's challenges ("make the learning rate collapse in the first
epoch", ...). The learner breaks the copy on purpose, predicts the finding it will cause, and
runs ``kata lab check DAY --expect CODE``: the loop runs under the diagnostics, in a fresh
process, and the command says whether the prediction and the challenges were met. A challenge
counts as completed when its finding is reported *and* was the one predicted; completed
challenges are kept in ``.kata/lab.json``. ``kata lab DAY --reset`` restores the working loop
(the learner's copy is backed up first).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console

from kata.atomic import locked, write_atomic
from kata.course.course import CommandError, Course

__all__ = ["CHALLENGES", "LAB_DIR", "Challenge", "run_lab"]

LAB_DIR = "lab"
STATE_FILE = "lab.json"
RUN_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Challenge:
    """One thing to break: met when the diagnostics report one of ``codes``."""

    number: int
    text: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Lab:
    day: int
    base: str  # the solution whose loop the lab starts from, relative to the course root
    challenges: tuple[Challenge, ...]


def _c(number: int, text: str, *codes: str) -> Challenge:
    return Challenge(number, text, codes)


LABS = {
    11: Lab(
        11,
        "solutions/day11/04_scheduler_per_batch/train.py",
        (
            _c(1, "Make the learning rate collapse in the first epoch.", "scheduler-per-batch"),
            _c(
                2,
                "Make every step follow the sum of all the gradients so far.",
                "grad-accumulation",
            ),
            _c(
                3,
                "Make the model stop learning without an error.",
                "grads-cleared-before-step",
                "params-not-updating",
                "no-grad-training",
            ),
            _c(4, "Make the schedule skip its first learning rate.", "scheduler-before-optimizer"),
            _c(5, "Make the loss turn into NaN.", "non-finite-loss"),
        ),
    ),
    12: Lab(
        12,
        "solutions/day12/05_best_weights_alias/train.py",
        (
            _c(1, "Make the validation loss lie (random from call to call).", "train-mode-in-eval"),
            _c(2, "Make the best weights follow the live ones.", "state-dict-alias"),
            _c(3, "Make the training run with dropout switched off.", "eval-mode-in-training"),
            _c(4, "Make evaluation record a graph nobody uses.", "eval-without-no-grad"),
        ),
    ),
}
CHALLENGES = {day: lab.challenges for day, lab in LABS.items()}


def run_lab(args: argparse.Namespace, out: Console, err: Console) -> int:
    course = Course.locate(args.root)
    words = list(args.words)
    checking = bool(words) and words[0] == "check"
    if checking:
        words.pop(0)
    if len(words) > 1:
        raise CommandError(
            f"Too many arguments: {' '.join(args.words)!r}. "
            "Use 'kata lab DAY' or 'kata lab check DAY --expect CODE'."
        )
    lab = _lab_of(course, words[0] if words else None, checking=checking)
    if checking:
        if args.reset:
            raise CommandError("--reset goes with 'kata lab DAY', not with 'check'.")
        return _check(course, lab, args.expect, out)
    if args.expect:
        raise CommandError(
            f"--expect goes with 'kata lab check day{lab.day}': "
            f"kata lab check day{lab.day} --expect {args.expect}"
        )
    return _start(course, lab, out, reset=args.reset)


# -- which lab ------------------------------------------------------------------------------------
def _lab_of(course: Course, word: str | None, *, checking: bool) -> Lab:
    if word is None:
        started = [day for day in LABS if _lab_file(course, day).is_file()]
        if checking and len(started) == 1:
            return LABS[started[0]]
        days = ", ".join(str(d) for d in LABS)
        raise CommandError(
            f"Which day's lab? Give the day (labs: {days}), e.g. 'kata lab 11'"
            + (" or 'kata lab check 11 --expect CODE'." if checking else ".")
        )
    text = word.strip().lower().removeprefix("day")
    if text.isdigit() and int(text) in LABS:
        return LABS[int(text)]
    names = [f"day{d}" for d in LABS]
    close = difflib.get_close_matches(word.lower(), names, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise CommandError(f"No lab for {word!r} (labs: {', '.join(names)}).{hint}")


def _lab_file(course: Course, day: int) -> Path:
    return course.root / LAB_DIR / f"day{day}" / "train.py"


# -- kata lab DAY ---------------------------------------------------------------------------------
def _start(course: Course, lab: Lab, out: Console, *, reset: bool) -> int:
    target = _lab_file(course, lab.day)
    base = course.root / lab.base
    if not base.is_file():
        raise CommandError(f"The lab's working loop {base} is missing from this course.")
    relative = course.relative(target)
    if target.is_file() and reset:
        backup = _backup(course, lab.day, target)
        out.print(f"Your copy was saved to {course.relative(backup)}.", markup=False)
    if not target.is_file() or reset:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, base.read_text(encoding="utf-8"))
        out.print(
            f"A working training loop is in {relative}: it trains, and nothing is wrong with it.",
            markup=False,
        )
    else:
        out.print(
            f"Your lab copy is {relative} (kata lab {lab.day} --reset restores the working loop).",
            markup=False,
        )
    done = _completed(course, lab.day)
    out.print(
        f"\nDay {lab.day} break-it lab: {len(done)} of {len(lab.challenges)} challenges completed."
    )
    for challenge in lab.challenges:
        mark = "✔" if challenge.number in done else "·"
        out.print(f"  {mark} {challenge.number}. {challenge.text}", markup=False)
    out.print(
        f"\nBreak your copy for one challenge, predict the finding it causes, then:\n"
        f"  kata lab check {lab.day} --expect CODE"
        "    (python -m diagnostics --list-codes lists the codes)",
        markup=False,
    )
    return 0


def _backup(course: Course, day: int, path: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    folder = course.state_dir / "backups" / f"lab-day{day}" / stamp
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, folder / path.name)
    return folder / path.name


# -- kata lab check DAY --expect CODE -------------------------------------------------------------
def _check(course: Course, lab: Lab, expect: str | None, out: Console) -> int:
    from diagnostics import CATALOGUE

    if not expect:
        raise CommandError(
            f"Say which finding you expect: kata lab check {lab.day} --expect CODE "
            "(predict it before you run; python -m diagnostics --list-codes lists the codes)."
        )
    if expect not in CATALOGUE:
        close = difflib.get_close_matches(expect, list(CATALOGUE), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CommandError(
            f"Unknown finding code {expect!r}.{hint} python -m diagnostics --list-codes lists them."
        )
    target = _lab_file(course, lab.day)
    if not target.is_file():
        raise CommandError(
            f"There is no lab copy {course.relative(target)} yet: run 'kata lab {lab.day}' first."
        )
    out.print(f"Running {course.relative(target)} under the diagnostics...", markup=False)
    report = _diagnose(course, target)
    codes = sorted({f["code"] for f in report.get("findings", [])})
    crash = report.get("crash")
    if codes:
        out.print(f"Reported: {', '.join(codes)}", markup=False)
    else:
        out.print(
            "Reported: nothing; as far as the diagnostics see, the loop is still correct.",
            markup=False,
        )
    if crash and not codes:
        out.print(
            f"The script crashed: {crash.get('type', 'an error')}: {crash.get('message', '')}",
            markup=False,
        )
    predicted = expect in codes
    if predicted:
        out.print(f"✔ Your prediction {expect} was reported.", style="green", markup=False)
    else:
        out.print(f"✘ Your prediction {expect} was not reported.", style="red", markup=False)
    met = [c for c in lab.challenges if set(c.codes) & set(codes)]
    completed = [c for c in met if predicted and expect in c.codes]
    for challenge in met:
        verdict = (
            "completed" if challenge in completed else "met, but not the finding you predicted"
        )
        out.print(f"  Challenge {challenge.number} ({challenge.text}) {verdict}.", markup=False)
    if not met:
        out.print("  No challenge of the lab was met by this run.", markup=False)
    done = _record(course, lab.day, [c.number for c in completed])
    out.print(
        f"Day {lab.day} lab: {len(done)} of {len(lab.challenges)} challenges completed.",
        markup=False,
    )
    return 0 if completed else 1


def _diagnose(course: Course, script: Path) -> dict[str, Any]:
    project = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(course.root), project, env.get("PYTHONPATH")])
    )
    with tempfile.TemporaryDirectory(prefix="kata-lab-") as tmp:
        report_path = Path(tmp) / "findings.json"
        command = [sys.executable, "-m", "diagnostics", "--json", str(report_path), script.name]
        try:
            run = subprocess.run(
                command,
                cwd=script.parent,
                env=env,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise CommandError(
                f"{script} ran for more than {RUN_TIMEOUT_S:.0f} s and was stopped: a lab break "
                "must still let the loop finish (fewer epochs, or break something else)."
            ) from None
        if not report_path.is_file():
            tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
            raise CommandError(f"The diagnostics did not run on {script}: " + " / ".join(tail))
        data: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
        return data


# -- progress -------------------------------------------------------------------------------------
def _state_path(course: Course) -> Path:
    return course.state_dir / STATE_FILE


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": 1, "labs": {}}
    if not isinstance(data, dict) or not isinstance(data.get("labs"), dict):
        return {"version": 1, "labs": {}}
    return data


def _completed(course: Course, day: int) -> set[int]:
    entry = _read(_state_path(course))["labs"].get(f"day{day}", {})
    return {n for n in entry.get("completed", []) if isinstance(n, int)}


def _record(course: Course, day: int, numbers: list[int]) -> set[int]:
    path = _state_path(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        data = _read(path)
        entry = data["labs"].setdefault(f"day{day}", {})
        done = {n for n in entry.get("completed", []) if isinstance(n, int)} | set(numbers)
        entry["completed"] = sorted(done)
        entry["checks"] = int(entry.get("checks", 0)) + 1
        write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return done
