"""The rounds of ``kata drill``: which code to show or question to ask, and running code for real.

A fault round is a kata's broken file as shipped, or a ``kata break`` operator applied to a
kata's solution. A "nothing is wrong" round is a correct loop: a kata's solution, or one of
the tricky-but-correct loops of ``kata/drill/correct_loops/``. An interview round is a kata's
``[interview]`` question, or one of ``kata/drill/interview.py``. Every round belongs to a day and
a topic: ``--day`` draws from the day's katas, the operators of the codes that day teaches and
the day's questions; the topic is what the drill history keeps accuracy for.

A code round is shown only once the answer key has verified it (``kata/drill/answer_key.py``).
"""

from __future__ import annotations

import ast
import contextlib
import io
import random
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kata.course import shipped as _shipped
from kata.course.meta import KataMeta
from kata.faults.breaking import OPERATORS, BreakError, break_source
from kata.faults.source import first_changed_line

from .answers import NOTHING
from .interview import QUESTIONS, Question
from .kata_points import KATA_POINTS

__all__ = [
    "NOTHING_SHARE",
    "Pool",
    "Round",
    "Run",
    "build_pool",
    "diagnose",
    "draw",
    "fault_rounds",
    "snippet",
]

CORRECT_DIR = Path(__file__).parent / "correct_loops"
NOTHING_TOPIC = "correct loops"
NOTHING_SHARE = 0.2  # of the code rounds, about one in five shows a correct loop

_FAMILY_WORDS = {
    "gradients": "how gradients are made, cleared and used",
    "optimizers": "how the optimizer is configured",
    "schedulers": "when the learning-rate scheduler steps",
    "modes": "train() and eval() modes",
    "losses": "what the loss function is given",
    "checkpoints": "how the best weights are kept",
    "devices": "where tensors and the model live",
    "shapes": "the shapes that meet in the model or the loss",
}


@dataclass
class Round:
    kind: str  # "fault" (a code round: a fault, or NOTHING) or "interview"
    meta: KataMeta | None  # the kata it comes from (None: a correct loop or a question)
    source: str  # where the snippet comes from, for the report
    code: str = ""  # the expected answer: a finding code, or NOTHING
    codes: tuple[str, ...] = ()  # every code this version has (none is a distractor)
    file: str = "train.py"
    broken: str = ""  # the code shown
    fixed: str = ""  # its correct version (the same text for a correct loop)
    hints: tuple[str, ...] = ()
    day: int = 0
    topic: str = ""
    question: Question | None = None  # an interview round with key points

    @property
    def kata(self) -> str:
        return self.meta.id if self.meta is not None else ""


# -- the pool -------------------------------------------------------------------------------------
@dataclass
class Pool:
    """Every round a drill may draw, before the answer key has checked any."""

    faults: list[Round]
    correct: list[Round]
    questions: list[Round]

    def code_rounds(self) -> list[Round]:
        return [*self.faults, *self.correct]


def build_pool(metas: list[KataMeta], *, days: Iterable[int], interview: bool = True) -> Pool:
    """The rounds of ``days`` (the day's katas, and the operators of the codes they teach)."""
    days = set(days)
    metas = [m for m in metas if m.day in days]
    taught = {code for m in metas for code in m.codes}
    return Pool(
        fault_rounds(metas, taught=taught),
        correct_rounds(metas, days=days),
        interview_rounds(metas, days=days) if interview else [],
    )


def fault_rounds(metas: list[KataMeta], *, taught: set[str] | None = None) -> list[Round]:
    """The broken katas as shipped, and the operators of the ``taught`` codes on the solutions."""
    rounds = []
    for meta in metas:
        name = meta.files[0]
        solution = meta.solution_dir / name
        if not solution.is_file():
            continue
        fixed = solution.read_text(encoding="utf-8")
        shipped = _shipped.shipped_file(meta, name)
        broken_file = shipped if shipped.is_file() else meta.dir / name
        if meta.codes and broken_file.is_file():
            broken = broken_file.read_text(encoding="utf-8")
            if broken != fixed:
                rounds.append(
                    _code_round(meta, meta.id, meta.codes, name, broken, fixed, meta.hints)
                )
        for op in OPERATORS.values():
            if op.code in meta.codes or (taught is not None and op.code not in taught):
                continue  # the kata itself drills this fault; or the day does not teach it
            try:
                mutation = break_source(fixed, op.name, filename=str(solution))
            except BreakError:
                continue
            source = f"{meta.id} solution, with '{op.name}'"
            hints = _generic_hints(op.code, fixed, mutation.source)
            rounds.append(
                _code_round(meta, source, (op.code,), name, mutation.source, fixed, hints)
            )
    return rounds


def _code_round(
    meta: KataMeta,
    source: str,
    codes: tuple[str, ...],
    name: str,
    broken: str,
    fixed: str,
    hints: tuple[str, ...],
) -> Round:
    from diagnostics import CATALOGUE

    topic = CATALOGUE[codes[0]].family
    return Round(
        "fault", meta, source, codes[0], codes, name, broken, fixed, hints, meta.day, topic
    )


def correct_rounds(metas: list[KataMeta], *, days: set[int]) -> list[Round]:
    """Correct loops: the katas' solutions, and the tricky-but-correct loops of the days."""
    rounds = []
    for meta in metas:
        name = meta.files[0]
        solution = meta.solution_dir / name
        if solution.is_file():
            text = solution.read_text(encoding="utf-8")
            rounds.append(_correct_round(meta, f"{meta.id} solution", name, text, meta.day))
    for path in sorted(CORRECT_DIR.glob("[!_]*.py")):
        text = path.read_text(encoding="utf-8")
        day = _declared_day(text)
        if day in days:
            # Shown as train.py, like every round: its own name would give the answer away.
            rounds.append(_correct_round(None, f"correct loop: {path.stem}", "train.py", text, day))
    return rounds


def _correct_round(meta: KataMeta | None, source: str, name: str, text: str, day: int) -> Round:
    hints = (
        "Read it as a reviewer would: is each line where it must be, or only unusual?",
        "Every call that looks misplaced here is placed on purpose; what would break it?",
    )
    return Round("fault", meta, source, NOTHING, (), name, text, text, hints, day, NOTHING_TOPIC)


def _declared_day(text: str) -> int:
    """The ``DAY = N`` a correct loop declares (0 when it declares none)."""
    for node in ast.parse(text).body:
        if (
            isinstance(node, ast.Assign)
            and [ast.unparse(t) for t in node.targets] == ["DAY"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, int)
        ):
            return node.value.value
    return 0


def interview_rounds(metas: list[KataMeta], *, days: set[int]) -> list[Round]:
    """The katas' own questions, and the questions of ``kata/drill/interview.py`` for ``days``."""
    from diagnostics import CATALOGUE

    rounds = []
    for m in metas:
        topic = CATALOGUE[m.codes[0]].family if m.codes else "interview"
        points = KATA_POINTS.get(m.id)
        question = None
        if points is not None:  # scored by its key points; otherwise graded by the learner
            text, answer = m.interview_question, m.interview_answer
            question = Question(m.id, m.day, topic, text, " ".join(answer.split()), points)
        rounds.append(Round("interview", m, m.id, day=m.day, topic=topic, question=question))
    rounds += [
        Round("interview", None, f"question: {q.id}", day=q.day, topic=q.topic, question=q)
        for q in QUESTIONS
        if q.day in days
    ]
    return rounds


def _generic_hints(code: str, fixed: str, broken: str) -> tuple[str, ...]:
    from diagnostics import CATALOGUE

    family = CATALOGUE[code].family
    line = first_changed_line(fixed, broken)
    return (
        f"Look at {_FAMILY_WORDS.get(family, family)}.",
        f"Look closely at line {line} and the lines around it.",
    )


# -- drawing the rounds ---------------------------------------------------------------------------
def draw(
    pool: Pool,
    count: int,
    rng: random.Random,
    *,
    verified: Callable[[Round], bool] = lambda r: True,
    weak: tuple[str, ...] = (),
) -> list[Round]:
    """``count`` rounds: code rounds of varied codes, an interview question every third.

    About one code round in five shows a correct loop. A code round is drawn only if
    ``verified`` accepts it (the answer key runs it); the next one is tried otherwise. With
    ``weak`` topics, rounds of those topics come first, the weakest first.
    """
    faults = _varied(_shuffled(pool.faults, rng))
    correct = _shuffled(pool.correct, rng)
    questions = _shuffled(pool.questions, rng)
    if weak:
        faults, correct, questions = (_weak_first(x, weak) for x in (faults, correct, questions))
    rounds: list[Round] = []
    while len(rounds) < count and (faults or correct or questions):
        slot = _slot(len(rounds), rng, faults, correct, questions, weak)
        if slot is questions:
            rounds.append(questions.pop(0))
            continue
        candidate = slot.pop(0)
        if verified(candidate):
            rounds.append(candidate)
    return rounds


def _slot(
    index: int,
    rng: random.Random,
    faults: list[Round],
    correct: list[Round],
    questions: list[Round],
    weak: tuple[str, ...],
) -> list[Round]:
    wants_nothing = rng.random() < NOTHING_SHARE
    if weak:  # the weakest topic's round next, whatever its kind
        heads = [x for x in (faults, correct, questions) if x and x[0].topic in weak]
        if heads:
            return min(heads, key=lambda x: weak.index(x[0].topic))
    if questions and (index % 3 == 2 or not (faults or correct)):
        return questions
    if correct and (wants_nothing or not faults):
        return correct
    return faults if faults else questions


def _shuffled(rounds: list[Round], rng: random.Random) -> list[Round]:
    rounds = list(rounds)
    rng.shuffle(rounds)
    return rounds


def _weak_first(rounds: list[Round], weak: tuple[str, ...]) -> list[Round]:
    rank = {topic: i for i, topic in enumerate(weak)}
    return sorted(rounds, key=lambda r: rank.get(r.topic, len(rank)))


def _varied(pool: list[Round]) -> list[Round]:
    """The pool reordered (stably) so that every code comes once before any comes twice."""
    seen: dict[str, int] = {}
    ranked = []
    for round_ in pool:
        ranked.append((seen.get(round_.code, 0), round_))
        seen[round_.code] = seen.get(round_.code, 0) + 1
    return [r for _, r in sorted(ranked, key=lambda pair: pair[0])]


# -- showing and running the code -----------------------------------------------------------------
def snippet(source: str, line: int) -> tuple[int, str]:
    """The function holding ``line`` (with its decorators), or the lines around it."""
    lines = source.splitlines()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    best = None
    for node in ast.walk(tree) if tree is not None else ():
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (node.lineno <= line <= (node.end_lineno or node.lineno))
            and (best is None or node.lineno > best.lineno)
        ):
            best = node
    if best is not None:
        first = min([best.lineno, *(d.lineno for d in best.decorator_list)])
        last = best.end_lineno or best.lineno
    else:
        first, last = max(1, line - 8), min(len(lines), line + 8)
    return first, "\n".join(lines[first - 1 : last])


def train_function(source: str) -> int:
    """The line of ``def train`` in ``source`` (1 when there is none): a correct loop's snippet."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == "train":
            return node.lineno
    return 1


@dataclass
class Run:
    """What running a round's code under ``diagnostics.watch()`` gave."""

    report: Any  # the diagnostics Report; None when the code could not be loaded
    crashed: str = ""  # the exception that ended train(), if one did

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(sorted(self.report.codes())) if self.report is not None else ()


def diagnose(round_: Round) -> Run:
    """Really run the code of a round under diagnostics.watch()."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is faster, and fair to a busy machine
    try:
        return _diagnose(round_)
    finally:
        torch.set_num_threads(threads)


def _diagnose(round_: Round) -> Run:
    import diagnostics
    from kata.course.loader import KataLoadError, load_file

    meta = round_.meta
    with tempfile.TemporaryDirectory(prefix="kata-drill-") as tmp:
        folder = Path(tmp)
        solution_dir = meta.solution_dir if meta is not None else None
        for name in meta.files if meta is not None else ():
            if solution_dir is not None and (solution_dir / name).is_file():
                shutil.copy(solution_dir / name, folder / name)  # other files, for imports
        path = folder / round_.file
        path.write_text(round_.broken, encoding="utf-8")
        label = f"drill_{meta.day_name}_{meta.name}" if meta else "drill_correct_loop"
        with contextlib.ExitStack() as stack:
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))  # the epoch logs
            stack.enter_context(warnings.catch_warnings())  # torch's own warnings, shown
            warnings.simplefilter("ignore")  # better by the diagnosis itself
            if meta is not None and meta.accelerator:
                from kata.accelerator import accelerator

                stack.enter_context(accelerator())
            try:
                module = load_file(path, label=label)
            except KataLoadError:
                return Run(None)
            train = getattr(module, "train", None)
            if not callable(train):
                return Run(None)
            crashed = ""
            try:
                with diagnostics.watch() as report:
                    train(seed=0)
            except Exception as exc:  # a crash is part of the diagnosis (devices, shapes)
                crashed = f"{type(exc).__name__}: {exc}"
    return Run(report, crashed)
