"""``kata drill``: interview practice in short rounds.

A fault round shows the function of a broken training loop that holds the fault and asks
which finding code it has (a letter, or the code itself). The snippets are the katas'
broken files as shipped, and the fault operators of ``kata break`` applied to the katas'
solutions. The answer is revealed with what the diagnostics really report when that broken
code runs, and the fix as a diff. Interview rounds ask the days' checkpoint questions
(kata.toml ``[interview]``) and reveal the model answer; the learner grades themself.

Scores go to ``.kata/drill-history.json``; ``--report`` writes each question's result.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.syntax import Syntax

from ._cli_learn import load_progress
from ._course import CommandError, Course
from ._rounds import Round, diagnose, draw, snippet
from ._source import first_changed_line

TIME_LIMIT = 60.0
HISTORY_FILE = "drill-history.json"
REPORT_FORMAT = "torch-katas drill report"
DETAILS = (
    "Fault rounds show the function of a broken training loop that holds the fault: answer\n"
    "with a letter or the finding code, or '?' for a hint. The answer comes with what the\n"
    "diagnostics report when that code runs, and the fix. Interview rounds ask the days'\n"
    "checkpoint questions; after the model answer you say whether you had it (y/n).\n"
    "Scores are kept in .kata/drill-history.json.\n"
    "Scripted: --answers 'b,?,a,y' (one per question, plus one per '?'), or a file with one\n"
    "per line.\nexample: kata drill --day 11 --count 4 --timed"
)
_LETTERS = "abcd"
_HINT = frozenset({"?", "h", "hint"})
_YES, _NO = frozenset({"y", "yes"}), frozenset({"n", "no"})


@dataclass
class Outcome:
    round: Round
    answer: str
    right: bool
    seconds: float
    hints_used: int
    over_time: bool = False
    choices: dict[str, str] = field(default_factory=dict)
    diagnosis: list[str] = field(default_factory=list)

    def to_dict(self, number: int) -> dict[str, Any]:
        r = self.round
        item: dict[str, Any] = {
            "number": number,
            "kind": r.kind,
            "kata": r.meta.id,
            "source": r.source,
            "answer": self.answer,
            "right": self.right,
            "seconds": round(self.seconds, 3),
            "hints_used": self.hints_used,
            "over_time": self.over_time,
        }
        if r.kind == "fault":
            item.update(expected=r.code, choices=self.choices, diagnosis=self.diagnosis)
        else:
            item["question"] = r.meta.interview_question
        return item


# -- the command ----------------------------------------------------------------------------------
def run_drill(args: argparse.Namespace, out: Console, err: Console) -> int:
    args.interrupt_message = "Drill stopped. Nothing was recorded for this session."
    course = Course.locate(args.root)
    load_progress(course, err)  # reports a corrupt progress file, like every command
    if args.count < 1:
        raise CommandError(f"--count must be at least 1, not {args.count}.")
    metas = course.katas()
    if args.day is not None:
        day = course.day(args.day)
        metas = [m for m in metas if m.day == day]
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    rng = random.Random(seed)
    rounds = draw(metas, args.count, rng, interview=not args.no_interview)
    if not rounds:
        where = f" on day {args.day}" if args.day else ""
        raise CommandError(f"No katas to drill{where}: the course has no kata with a fault yet.")
    answers = _Answers(out, _scripted(args.answers) if args.answers else None)
    out.print(
        f"Drill: {len(rounds)} rounds (seed {seed}; '--seed {seed}' draws them again)."
        + (f" {TIME_LIMIT:.0f} s per question." if args.timed else ""),
        markup=False,
    )
    outcomes = []
    for number, round_ in enumerate(rounds, start=1):
        out.print()
        out.rule(f"Round {number} of {len(rounds)}")
        if round_.kind == "fault":
            outcomes.append(_fault_round(round_, rng, answers, out, timed=args.timed))
        else:
            outcomes.append(_interview_round(round_, answers, out, timed=args.timed))
    score = sum(o.right for o in outcomes)
    out.print()
    out.rule("Score")
    history = _record(
        course,
        out,
        err,
        seed=seed,
        score=score,
        total=len(outcomes),
        day=args.day,
        timed=args.timed,
    )
    best = max((s["score"] / s["total"] for s in history if s.get("total")), default=0)
    out.print(
        f"{score} of {len(outcomes)} right. Best so far: {best:.0%} over "
        f"{len(history)} session(s).",
        style="bold",
    )
    if args.report:
        _write_report(Path(args.report), seed, args.timed, outcomes)
        out.print(f"Report written to {args.report}", markup=False)
    return 0


# -- a fault round --------------------------------------------------------------------------------
def _fault_round(
    round_: Round, rng: random.Random, answers: _Answers, out: Console, *, timed: bool
) -> Outcome:
    from diagnostics import CATALOGUE

    start, lines = snippet(round_.broken, first_changed_line(round_.fixed, round_.broken))
    out.print(f"What is wrong with this code from {round_.file}?")
    out.print(
        Syntax(
            lines,
            "python",
            line_numbers=True,
            start_line=start,
            theme="ansi_dark",
            background_color="default",
        )
    )
    others = [c for c in CATALOGUE if c not in round_.codes]
    options = [round_.code, *rng.sample(others, k=min(3, len(others)))]
    rng.shuffle(options)
    choices = dict(zip(_LETTERS, options, strict=False))
    for letter, code in choices.items():
        out.print(f"  {letter}) {code:<28} {CATALOGUE[code].summary}", markup=False)
    started, hints_used = time.monotonic(), 0
    while True:
        raw = answers.ask("Your answer (a letter, a code, or ? for a hint): ")
        if raw.lower() in _HINT:
            if hints_used < len(round_.hints):
                hints_used += 1
                out.print(
                    f"Hint {hints_used}: {round_.hints[hints_used - 1]}",
                    markup=False,
                    soft_wrap=False,
                )
            else:
                out.print("No more hints for this one.")
            continue
        picked = _parse_choice(raw, choices)
        if picked is None and not answers.scripted:
            out.print(f"Answer with a letter a-{_LETTERS[len(choices) - 1]} or a finding code.")
            continue
        break
    seconds = time.monotonic() - started
    over = timed and seconds > TIME_LIMIT
    right = picked == round_.code and not over
    if right:
        out.print(f"✔ Right: {round_.code}.", style="green")
    else:
        said = f"you answered {picked or repr(raw)}"
        late = f" Over time ({seconds:.0f} s > {TIME_LIMIT:.0f} s)." if over else ""
        out.print(f"✘ It is {round_.code} ({said}).{late}", style="red", markup=False)
    report = _reveal_diagnosis(round_, out)
    _model_answer(round_, report, out)
    return Outcome(
        round_,
        raw,
        right,
        seconds,
        hints_used,
        over,
        choices,
        sorted(report.codes()) if report is not None else [],
    )


def _parse_choice(raw: str, choices: dict[str, str]) -> str | None:
    text = raw.strip().lower().rstrip(")")
    if text in choices:
        return choices[text]
    if text in choices.values():
        return text
    return None


def _reveal_diagnosis(round_: Round, out: Console) -> Any:
    from diagnostics._render import render_report

    with out.status("Running it under diagnostics.watch()..."):
        report = diagnose(round_)
    if report is None:
        out.print("(It could not be run here, so there is no diagnosis to show.)")
        return None
    out.print("What the diagnostics report when it runs:", style="bold")
    # Panels wrap their text; this console keeps plain lines whole (soft wrap) otherwise.
    soft_wrap, out.soft_wrap = out.soft_wrap, False
    try:
        render_report(report, console=out)
    finally:
        out.soft_wrap = soft_wrap
    return report


def _model_answer(round_: Round, report: Any, out: Console) -> None:
    from diagnostics import CATALOGUE

    fix = next((f.fix for f in (report.findings if report else []) if f.code == round_.code), "")
    out.print("Model answer:", style="bold")
    out.print(f"{round_.code}: {CATALOGUE[round_.code].summary}.", markup=False, soft_wrap=False)
    if fix:
        out.print(f"Fix: {fix}", markup=False, soft_wrap=False)
    diff = "".join(
        difflib.unified_diff(
            round_.broken.splitlines(keepends=True),
            round_.fixed.splitlines(keepends=True),
            f"{round_.file} (broken)",
            f"{round_.file} (fixed)",
            n=2,
        )
    )
    if diff:
        out.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))


# -- an interview round ---------------------------------------------------------------------------
def _interview_round(round_: Round, answers: _Answers, out: Console, *, timed: bool) -> Outcome:
    meta = round_.meta
    out.print(f"Interview question ({meta.id}):", style="bold")
    out.print(meta.interview_question, markup=False, soft_wrap=False)
    started = time.monotonic()
    typed = answers.ask_free("Your answer (type it, or just think), then Enter: ")
    seconds = time.monotonic() - started
    out.print("Model answer:", style="bold")
    out.print(meta.interview_answer, markup=False, soft_wrap=False)
    while True:
        grade = answers.ask("Did your answer cover it? [y/n]: ").strip().lower()
        if grade in _YES | _NO or answers.scripted:
            break
        out.print("Answer y or n.")
    over = timed and seconds > TIME_LIMIT
    right = grade in _YES and not over
    if over:
        out.print(f"Over time ({seconds:.0f} s > {TIME_LIMIT:.0f} s): counts as a miss.")
    return Outcome(round_, typed or grade, right, seconds, 0, over)


# -- answers, history, report ---------------------------------------------------------------------
class _Answers:
    """The learner at the keyboard, or ``--answers`` read in order."""

    def __init__(self, out: Console, scripted: list[str] | None) -> None:
        self.out = out
        self.scripted = scripted is not None
        self._queue = list(scripted or [])
        self._used = 0

    def ask(self, prompt: str) -> str:
        if not self.scripted:
            try:
                return self.out.input(prompt).strip()
            except EOFError:
                raise CommandError(
                    "The input ended before the drill did; pass --answers for a scripted run."
                ) from None
        if not self._queue:
            raise CommandError(
                f"--answers ran out after {self._used} answer(s): give one per question, one "
                "more per '?' hint, and y or n for each interview question."
            )
        self._used += 1
        answer = self._queue.pop(0)
        self.out.print(f"{prompt}{answer}", markup=False)
        return answer

    def ask_free(self, prompt: str) -> str:
        """A free-text answer: asked of a person, skipped in a scripted run."""
        return "" if self.scripted else self.ask(prompt)


def _scripted(value: str) -> list[str]:
    path = Path(value)
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        return [line.strip() for line in lines if line.strip()]
    return [part.strip() for part in value.split(",")]


def _record(course: Course, out: Console, err: Console, **session: Any) -> list[dict[str, Any]]:
    """Append this session to the history file; returns every session so far."""
    path = course.state_dir / HISTORY_FILE
    sessions: list[dict[str, Any]] = []
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            sessions = [s for s in data["sessions"] if isinstance(s, dict)]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            kept = path.with_name(path.name + ".corrupt")
            os.replace(path, kept)
            err.print(
                f"kata: warning: the drill history {path} could not be read ({exc}); it "
                f"was started afresh and the old file kept as {kept}.",
                style="yellow",
                markup=False,
            )
            sessions = []
    session["when"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    sessions.append(session)
    _write_json(path, {"version": 1, "sessions": sessions})
    return sessions


def _write_report(path: Path, seed: int, timed: bool, outcomes: list[Outcome]) -> None:
    _write_json(
        path,
        {
            "format": REPORT_FORMAT,
            "version": 1,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": seed,
            "timed": timed,
            "score": sum(o.right for o in outcomes),
            "total": len(outcomes),
            "questions": [o.to_dict(n) for n, o in enumerate(outcomes, start=1)],
        },
    )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
