"""``kata drill``: interview practice in short rounds.

A code round shows the function of a training loop and asks what is wrong with it: a
finding code, or "nothing" for a correct loop. Answers are a letter, a code, or a phrase
("forgot zero_grad"; see ``kata/drill/answers.py``). The rounds come from the katas as shipped,
the ``kata break`` operators applied to their solutions, the solutions themselves and a few
tricky-but-correct loops, and each is shown only once the answer key has run it under the
diagnostics and found exactly what it claims (``kata/drill/answer_key.py``). The answer is
revealed with what the diagnostics report when that code runs, and the fix as a diff.

Interview rounds ask the days' questions: a kata's ``[interview]`` question or one of
``kata/drill/interview.py``, scored by the key points the answer covers (a kata question with no
key points listed is graded by the learner, y or n).

Scores, per round and per topic, go to ``.kata/drill-history.json``; ``--weakest`` draws
from the topics missed most; ``--report`` writes each question's result.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from kata.atomic import locked
from kata.course.course import CommandError, Course
from kata.drill.answer_key import VERDICTS_FILE, AnswerKey
from kata.drill.answers import EXAMPLES, NOTHING, read_answer
from kata.drill.interview import covered
from kata.drill.rounds import Pool, Round, Run, build_pool, draw, snippet
from kata.faults.source import first_changed_line
from kata.report import write_json

from .learn import load_progress

__all__ = ["DETAILS", "HISTORY_FILE", "TIME_LIMIT", "WARN_BEFORE", "run_drill"]

TIME_LIMIT = 60.0
WARN_BEFORE = 10.0  # seconds left when a timed round warns
HISTORY_FILE = "drill-history.json"
HISTORY_VERSION = 2
REPORT_FORMAT = "torch-katas drill report"
WEAKEST_TOPICS = 3  # topics --weakest draws from
DETAILS = (
    "Code rounds show the function of a training loop: say what is wrong with it, with a\n"
    "letter, the finding code or your own words ('forgot zero_grad'), 'nothing' if it is\n"
    "correct, or '?' for a hint. The answer comes with what the diagnostics report when that\n"
    "code runs, and the fix. Interview rounds ask the days' questions: type your answer; it is\n"
    "scored by the key points it covers. Scores are kept per topic in\n"
    ".kata/drill-history.json.\n"
    "Scripted: --answers 'b,?,a,y' (one per question, plus one per '?'), or a file with one\n"
    "per line.\nexample: kata drill --day 11 --count 6 --timed"
)
_LETTERS = "abcd"
_HINT = frozenset({"?", "h", "hint"})
_YES, _NO = frozenset({"y", "yes"}), frozenset({"n", "no"})
NOTHING_LABEL = "nothing is wrong: this loop is correct"
_SOLUTION_NOTE = "This is the kata's solution: every step is where it belongs."


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
    points: list[tuple[str, bool]] = field(default_factory=list)  # key points, covered

    def to_dict(self, number: int) -> dict[str, Any]:
        r = self.round
        item: dict[str, Any] = {
            "number": number,
            "kind": r.kind,
            "kata": r.kata or None,
            "source": r.source,
            "day": r.day,
            "topic": r.topic,
            "answer": self.answer,
            "right": self.right,
            "seconds": round(self.seconds, 3),
            "hints_used": self.hints_used,
            "over_time": self.over_time,
        }
        if r.kind == "fault":
            item.update(expected=r.code, choices=self.choices, diagnosis=self.diagnosis)
        elif r.question is not None:
            item["question"] = r.question.text
            item["key_points"] = [{"point": p, "covered": c} for p, c in self.points]
            item["needed"] = r.question.needed
        elif r.meta is not None:
            item["question"] = r.meta.interview_question
        return item


# -- the command ----------------------------------------------------------------------------------
def run_drill(args: argparse.Namespace, out: Console, err: Console) -> int:
    args.interrupt_message = "Drill stopped. Nothing was recorded for this session."
    try:
        scripted = _scripted(args.answers) if args.answers is not None else None
    except _UsageError as exc:
        err.print(f"kata: error: {exc}", style="red", markup=False)
        return 2
    course = Course.locate(args.root)
    load_progress(course, err)  # reports a corrupt progress file, like every command
    if args.count < 1:
        raise CommandError(f"--count must be at least 1, not {args.count}.")
    days = [course.day(args.day)] if args.day is not None else course.days()
    pool = build_pool(course.katas(), days=days, interview=not args.no_interview)
    key = AnswerKey.load(course.state_dir / VERDICTS_FILE)
    if args.pool:
        return _show_pool(pool, key, days, out)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    rng = random.Random(seed)
    weak = _weak_topics(course, err, pool) if args.weakest else ()
    if args.weakest and not weak:
        out.print("No topic missed in the drill history yet: drawing as usual.")
    with out.status("Drawing rounds and checking them under the diagnostics..."):
        rounds = draw(pool, args.count, rng, verified=key.confirms, weak=weak)
    key.save()
    if not rounds:
        where = f" on day {args.day}" if args.day else ""
        if pool.code_rounds():
            raise CommandError(
                f"No round to drill{where}: none of its {len(pool.code_rounds())} code rounds "
                "reported what it expects when run under the diagnostics. Run 'kata drill "
                "--pool' to see what each one reports."
            )
        raise CommandError(f"No katas to drill{where}: the course has no kata with a fault yet.")
    answers = _Answers(out, scripted)
    out.print(
        f"Drill: {len(rounds)} rounds (seed {seed}; '--seed {seed}' draws them again)."
        + (f" {TIME_LIMIT:.0f} s per question." if args.timed else "")
        + (f" Weakest topics first: {', '.join(weak)}." if weak else ""),
        markup=False,
    )
    outcomes = []
    for number, round_ in enumerate(rounds, start=1):
        out.print()
        # A code round's topic would give its answer away (it says "correct loops").
        topic = f" · {round_.topic}" if round_.kind == "interview" else ""
        out.rule(f"Round {number} of {len(rounds)}{topic}")
        if round_.kind == "fault":
            outcomes.append(_fault_round(round_, rng, answers, key, out, timed=args.timed))
        else:
            outcomes.append(_interview_round(round_, answers, out, timed=args.timed))
    key.save()
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
        rounds=[
            {
                "topic": o.round.topic,
                "kind": o.round.kind,
                "source": o.round.source,
                "right": o.right,
                "seconds": round(o.seconds, 3),
            }
            for o in outcomes
        ],
    )
    _summary(outcomes, history, out, timed=args.timed)
    sessions = history["sessions"]
    best = max((s["score"] / s["total"] for s in sessions if s.get("total")), default=0)
    out.print(
        f"{score} of {len(outcomes)} right. Best so far: {best:.0%} over "
        f"{len(sessions)} session(s).",
        style="bold",
    )
    if args.report:
        _write_report(Path(args.report), seed, args.timed, outcomes)
        out.print(f"Report written to {args.report}", markup=False)
    return 0


def _show_pool(pool: Pool, key: AnswerKey, days: list[int], out: Console) -> int:
    """``--pool``: verify every code round, and say what each day's pool holds."""
    started = time.monotonic()
    table = Table(title="Drill pool")
    for column in ("day", "fault rounds", "correct loops", "questions", "dropped"):
        table.add_column(column, justify="right" if column != "day" else "left")
    dropped: list[str] = []
    with out.status("Running every round under the diagnostics..."):
        for day in days:
            faults = [r for r in pool.faults if r.day == day]
            correct = [r for r in pool.correct if r.day == day]
            kept_faults = [r for r in faults if key.confirms(r)]
            kept_correct = [r for r in correct if key.confirms(r)]
            for r in faults + correct:
                if r not in kept_faults and r not in kept_correct:
                    v = key.verdict(r)
                    said = ", ".join(v.codes) or ("not run" if not v.ran else "nothing")
                    dropped.append(f"day{day:02d}: {r.source}: expects {r.code}, reports {said}")
            table.add_row(
                f"day{day:02d}",
                str(len(kept_faults)),
                str(len(kept_correct)),
                str(sum(1 for r in pool.questions if r.day == day)),
                str(len(faults) + len(correct) - len(kept_faults) - len(kept_correct)),
            )
    key.save()
    out.print(table)
    for line in dropped:
        out.print(f"  dropped {line}", markup=False)
    out.print(
        f"Verified in {time.monotonic() - started:.1f} s ({key.ran} round(s) run, the rest "
        "from .kata/drill-verdicts.json). Every round drawn is one of those kept.",
        markup=False,
    )
    return 0


# -- a code round ---------------------------------------------------------------------------------
def _fault_round(
    round_: Round,
    rng: random.Random,
    answers: _Answers,
    key: AnswerKey,
    out: Console,
    *,
    timed: bool,
) -> Outcome:
    from diagnostics import CATALOGUE

    start, lines = snippet(round_.broken, _focus_line(round_))
    out.print(f"What is wrong with this code from {_where(round_)}?")
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
    if round_.code == NOTHING:
        options = [NOTHING, *rng.sample(others, k=min(3, len(others)))]
    else:
        options = [round_.code, NOTHING, *rng.sample(others, k=min(2, len(others)))]
    rng.shuffle(options)
    choices = dict(zip(_LETTERS, options, strict=False))
    for letter, code in choices.items():
        meaning = NOTHING_LABEL if code == NOTHING else CATALOGUE[code].summary
        out.print(f"  {letter}) {code:<28} {meaning}", markup=False)
    started, hints_used = time.monotonic(), 0
    deadline = started + TIME_LIMIT if timed else None
    while True:
        raw = answers.ask("Your answer (a letter, a code, your words, or ? for a hint): ", deadline)
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
        reading = read_answer(raw, choices)
        if len(reading.codes) > 1:
            out.print(
                f"{raw!r} reads as {' or '.join(reading.codes)}: which one? Answer with its "
                "letter or code.",
                markup=False,
            )
            continue
        if not reading.codes and len(raw.strip()) <= 2 and not answers.scripted:
            out.print(f"Answer with a letter a-{_LETTERS[len(choices) - 1]} or a finding code.")
            continue
        break
    seconds = time.monotonic() - started
    over = timed and seconds > TIME_LIMIT
    picked = reading.code
    right = picked == round_.code and not over
    if right:
        said = "" if reading.how in ("letter", "code") else f" (read from {raw!r})"
        out.print(f"✔ Right: {round_.code}.{said}", style="green", markup=False)
    else:
        said = f"you answered {picked}" if picked else f"{raw!r} was not read as any finding"
        late = f" Over time ({seconds:.0f} s > {TIME_LIMIT:.0f} s)." if over else ""
        out.print(f"✘ It is {round_.code} ({said}).{late}", style="red", markup=False)
        if not picked:
            examples = ", ".join(repr(e) for e in EXAMPLES.get(round_.code, ()))
            out.print(
                f"Accepted for {round_.code}: its letter, the code, or words such as "
                f"{examples} (the phrasings are listed in docs/cli.md).",
                markup=False,
                soft_wrap=False,
            )
    run = _reveal_diagnosis(round_, key, out)
    _model_answer(round_, run, out)
    return Outcome(round_, raw, right, seconds, hints_used, over, choices, list(run.codes))


def _focus_line(round_: Round) -> int:
    """The line the snippet is built around: the fault's, or a correct loop's backward()."""
    if round_.code != NOTHING:
        return first_changed_line(round_.fixed, round_.broken)
    lines = round_.broken.splitlines()
    return next((i for i, line in enumerate(lines, 1) if ".backward(" in line), 1)


def _where(round_: Round) -> str:
    return f"{round_.file} (day{round_.day:02d})" if round_.day else round_.file


def _reveal_diagnosis(round_: Round, key: AnswerKey, out: Console) -> Run:
    from diagnostics import render as render_report

    with out.status("Running it under diagnostics.watch()..."):
        run = key.run(round_)
    if run.report is None:
        out.print("(It could not be run here, so there is no diagnosis to show.)")
        return run
    out.print("What the diagnostics report when it runs:", style="bold")
    # Panels wrap their text; this console keeps plain lines whole (soft wrap) otherwise.
    soft_wrap, out.soft_wrap = out.soft_wrap, False
    try:
        render_report(run.report, console=out)
    finally:
        out.soft_wrap = soft_wrap
    return run


def _model_answer(round_: Round, run: Run, out: Console) -> None:
    from diagnostics import CATALOGUE

    out.print("Model answer:", style="bold")
    if round_.code == NOTHING:
        out.print(f"Nothing is wrong. {_why_correct(round_)}", markup=False, soft_wrap=False)
        return
    report = run.report
    fix = next((f.fix for f in (report.findings if report else []) if f.code == round_.code), "")
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


def _why_correct(round_: Round) -> str:
    """A correct loop's own docstring says why it is right; a solution is the kata's answer."""
    import ast

    if round_.meta is not None:
        return _SOLUTION_NOTE
    doc = ast.get_docstring(ast.parse(round_.broken)) or ""
    return " ".join(doc.split()) or _SOLUTION_NOTE


# -- an interview round ---------------------------------------------------------------------------
def _interview_round(round_: Round, answers: _Answers, out: Console, *, timed: bool) -> Outcome:
    if round_.question is not None:
        return _scored_round(round_, answers, out, timed=timed)
    meta = round_.meta
    assert meta is not None
    out.print(f"Interview question ({meta.id}):", style="bold")
    out.print(meta.interview_question, markup=False, soft_wrap=False)
    started = time.monotonic()
    deadline = started + TIME_LIMIT if timed else None
    typed = answers.ask_free("Your answer (type it, or just think), then Enter: ", deadline)
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


def _scored_round(round_: Round, answers: _Answers, out: Console, *, timed: bool) -> Outcome:
    """A question of kata/drill/interview.py: the answer is scored by the key points it covers."""
    question = round_.question
    assert question is not None
    where = round_.meta.id if round_.meta is not None else f"day {question.day}"
    out.print(f"Interview question ({where}, {question.topic}):", style="bold")
    out.print(question.text, markup=False, soft_wrap=False)
    started = time.monotonic()
    deadline = started + TIME_LIMIT if timed else None
    typed = answers.ask("Your answer, in a few sentences, then Enter: ", deadline)
    seconds = time.monotonic() - started
    hits = covered(question, typed)
    over = timed and seconds > TIME_LIMIT
    right = sum(hits) >= question.needed and not over
    out.print(
        f"Key points covered: {sum(hits)} of {len(hits)} ({question.needed} needed).",
        style="bold",
    )
    for point, hit in zip(question.points, hits, strict=True):
        mark, style = ("✔", "green") if hit else ("✘", "red")
        out.print(f"  {mark} {point.label}", style=style, markup=False, soft_wrap=False)
    if over:
        out.print(f"Over time ({seconds:.0f} s > {TIME_LIMIT:.0f} s): counts as a miss.")
    out.print("Model answer:", style="bold")
    out.print(question.answer, markup=False, soft_wrap=False)
    points = [(p.label, h) for p, h in zip(question.points, hits, strict=True)]
    return Outcome(round_, typed, right, seconds, 0, over, points=points)


# -- answers --------------------------------------------------------------------------------------
class _UsageError(Exception):
    """A command line that cannot work (exit 2, like argparse's own errors)."""


class _Answers:
    """The learner at the keyboard, or ``--answers`` read in order."""

    def __init__(self, out: Console, scripted: list[str] | None) -> None:
        self.out = out
        self.scripted = scripted is not None
        self._queue = list(scripted or [])
        self._used = 0

    def ask(self, prompt: str, deadline: float | None = None) -> str:
        if deadline is not None:
            left = max(0, round(deadline - time.monotonic()))
            prompt = f"[{left} s left] {prompt}"
        if not self.scripted:
            try:
                with self._countdown(deadline):
                    return self.out.input(prompt, markup=False).strip()
            except EOFError:
                raise CommandError(
                    "The input ended before the drill did; pass --answers for a scripted run."
                ) from None
        if not self._queue:
            raise CommandError(
                f"--answers ran out after {self._used} answer(s): give one per question, one "
                "more per '?' hint or unclear answer, and y or n for a kata's interview question."
            )
        self._used += 1
        answer = self._queue.pop(0)
        self.out.print(f"{prompt}{answer}", markup=False)
        return answer

    def ask_free(self, prompt: str, deadline: float | None = None) -> str:
        """A free-text answer that is not scored: asked of a person, skipped in a scripted run."""
        return "" if self.scripted else self.ask(prompt, deadline)

    @contextmanager
    def _countdown(self, deadline: float | None) -> Iterator[None]:
        """While a person types: a warning when little time is left, and one when it is up."""
        if deadline is None:
            yield
            return
        timers = []
        for left, text in (
            (WARN_BEFORE, f"⏳ {WARN_BEFORE:.0f} s left."),
            (0.0, "⌛ Time is up: this answer will count as a miss."),
        ):
            wait = deadline - left - time.monotonic()
            if wait > 0:
                timer = threading.Timer(wait, self._warn, args=(text,))
                timer.daemon = True
                timer.start()
                timers.append(timer)
        try:
            yield
        finally:
            for timer in timers:
                timer.cancel()

    def _warn(self, text: str) -> None:
        self.out.print(f"\n{text}", style="yellow", markup=False)


def _scripted(value: str) -> list[str]:
    """``--answers``: a file with one answer per line, or answers separated by commas."""
    path = Path(value)
    if path.is_file():
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise _UsageError(f"--answers: cannot read {value}: {exc}.") from None
        return [line.strip() for line in lines if line.strip()]
    looks_like_a_path = "," not in value and (
        os.sep in value or "/" in value or path.suffix.lower() in (".txt", ".csv", ".md")
    )
    if path.is_dir() or looks_like_a_path:
        what = "is a folder" if path.is_dir() else "does not exist"
        raise _UsageError(
            f"--answers: {value} {what}. Give a file with one answer per line, or the "
            "answers themselves separated by commas: --answers 'b,?,a,y'."
        )
    return [part.strip() for part in value.split(",")]


# -- history, summary, report ---------------------------------------------------------------------
def _record(course: Course, out: Console, err: Console, **session: Any) -> dict[str, Any]:
    """Append this session to the history file; returns the whole history.

    Read, changed and written under the state folder's lock, so that two drills ending at once
    both keep their session; a history that cannot be written is one warning, not a crash.
    """
    session["when"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path = course.state_dir / HISTORY_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with locked(path):
            history = _read_history(course, err, repair=True)
            sessions = [*history["sessions"], session]
            data = {"version": HISTORY_VERSION, "sessions": sessions, "topics": _topics(sessions)}
            write_json(path, data)
    except OSError as exc:
        err.print(
            f"kata: warning: the drill history {path} could not be saved "
            f"({exc.strerror or exc}); this session's scores are shown but not kept.",
            style="yellow",
            markup=False,
        )
        history = _read_history(course, err, repair=False)
        sessions = [*history["sessions"], session]
        data = {"version": HISTORY_VERSION, "sessions": sessions, "topics": _topics(sessions)}
    return data


def _read_history(course: Course, err: Console, *, repair: bool) -> dict[str, Any]:
    path = course.state_dir / HISTORY_FILE
    sessions: list[dict[str, Any]] = []
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            sessions = [s for s in data["sessions"] if isinstance(s, dict)]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if not repair:
                return {"sessions": [], "topics": {}}
            kept = path.with_name(path.name + ".corrupt")
            os.replace(path, kept)
            err.print(
                f"kata: warning: the drill history {path} could not be read ({exc}); it "
                f"was started afresh and the old file kept as {kept}.",
                style="yellow",
                markup=False,
            )
            sessions = []
    return {"sessions": sessions, "topics": _topics(sessions)}


def _topics(sessions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Accuracy per topic over every recorded round (sessions before version 2 have none)."""
    topics: dict[str, dict[str, Any]] = {}
    for session in sessions:
        rounds = session.get("rounds")
        for item in rounds if isinstance(rounds, list) else ():
            if not isinstance(item, dict) or not isinstance(item.get("topic"), str):
                continue
            entry = topics.setdefault(item["topic"], {"right": 0, "total": 0, "seconds": 0.0})
            entry["right"] += bool(item.get("right"))
            entry["total"] += 1
            seconds = item.get("seconds")
            entry["seconds"] += float(seconds) if isinstance(seconds, (int, float)) else 0.0
    for entry in topics.values():
        entry["accuracy"] = round(entry["right"] / entry["total"], 3)
        entry["seconds"] = round(entry["seconds"], 3)
    return dict(sorted(topics.items()))


def _weakest(topics: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """The topics missed most: lowest accuracy first, then the most misses."""
    missed = [(t, e) for t, e in topics.items() if e["right"] < e["total"]]
    missed.sort(key=lambda te: (te[1]["right"] / te[1]["total"], te[1]["right"] - te[1]["total"]))
    return tuple(t for t, _ in missed[:WEAKEST_TOPICS])


def _weak_topics(course: Course, err: Console, pool: Pool) -> tuple[str, ...]:
    """The weakest topics of the history that this pool (this --day) has rounds of."""
    present = {r.topic for r in [*pool.code_rounds(), *pool.questions]}
    topics = _read_history(course, err, repair=False)["topics"]
    return _weakest({t: e for t, e in topics.items() if t in present})


def _summary(
    outcomes: list[Outcome], history: dict[str, Any], out: Console, *, timed: bool
) -> None:
    table = Table(title="Rounds")
    for column in ("#", "topic", "round", "time", ""):
        table.add_column(column, justify="right" if column in ("#", "time") else "left")
    for number, o in enumerate(outcomes, start=1):
        r = o.round
        what = (
            "interview"
            if r.kind == "interview"
            else ("correct loop" if r.code == NOTHING else r.code)
        )
        late = " (late)" if o.over_time else ""
        mark = "[green]✔[/]" if o.right else "[red]✘[/]"
        table.add_row(str(number), r.topic, what, f"{o.seconds:.0f} s{late}", mark)
    out.print(table)
    missed = sorted({o.round.topic for o in outcomes if not o.right})
    if missed:
        out.print(f"Missed this session: {', '.join(missed)}.", markup=False)
    weak = _weakest(history["topics"])
    if weak:
        parts = [f"{t} {history['topics'][t]['accuracy']:.0%}" for t in weak]
        out.print(
            f"Weakest topics so far: {', '.join(parts)}. 'kata drill --weakest' drills them.",
            markup=False,
        )
    if timed:
        total = sum(o.seconds for o in outcomes)
        out.print(f"Time: {total:.0f} s in all, {total / len(outcomes):.0f} s a round.")


def _write_report(path: Path, seed: int, timed: bool, outcomes: list[Outcome]) -> None:
    write_json(
        path,
        {
            "format": REPORT_FORMAT,
            "version": 2,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": seed,
            "timed": timed,
            "score": sum(o.right for o in outcomes),
            "total": len(outcomes),
            "questions": [o.to_dict(n) for n, o in enumerate(outcomes, start=1)],
        },
    )
