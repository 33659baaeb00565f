"""The rounds of ``kata drill``: which broken code to show, and running it for real.

A fault round is a kata's broken file as shipped, or a ``kata break`` operator applied to a
kata's solution. Its snippet is the function holding the fault; its diagnosis comes from
running the broken code under ``diagnostics.watch()``, as the learner's run would.
"""

from __future__ import annotations

import ast
import contextlib
import io
import random
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _shipped
from ._break import OPERATORS, BreakError, break_source
from ._meta import KataMeta
from ._source import first_changed_line

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
    kind: str  # "fault" or "interview"
    meta: KataMeta
    source: str  # where the snippet comes from, for the report
    code: str = ""
    codes: tuple[str, ...] = ()  # every code this broken version has (none is a distractor)
    file: str = "train.py"
    broken: str = ""
    fixed: str = ""
    hints: tuple[str, ...] = ()


# -- drawing the rounds ---------------------------------------------------------------------------
def draw(metas: list[KataMeta], count: int, rng: random.Random, *, interview: bool) -> list[Round]:
    """``count`` rounds: fault rounds of varied codes, an interview question every third."""
    faults = fault_rounds(metas)
    rng.shuffle(faults)
    faults = _varied(faults)
    questions = [Round("interview", m, m.id) for m in metas] if interview else []
    rng.shuffle(questions)
    rounds: list[Round] = []
    while len(rounds) < count and (faults or questions):
        wants_question = (len(rounds) % 3 == 2 or not faults) and questions
        rounds.append(questions.pop() if wants_question else faults.pop(0))
    return rounds


def _varied(pool: list[Round]) -> list[Round]:
    """The pool reordered (stably) so that every code comes once before any comes twice."""
    seen: dict[str, int] = {}
    ranked = []
    for round_ in pool:
        ranked.append((seen.get(round_.code, 0), round_))
        seen[round_.code] = seen.get(round_.code, 0) + 1
    return [r for _, r in sorted(ranked, key=lambda pair: pair[0])]


def fault_rounds(metas: list[KataMeta]) -> list[Round]:
    """The broken katas as shipped, and the fault operators applied to their solutions."""
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
                    Round(
                        "fault",
                        meta,
                        meta.id,
                        meta.codes[0],
                        meta.codes,
                        name,
                        broken,
                        fixed,
                        meta.hints,
                    )
                )
        for op in OPERATORS.values():
            if op.code in meta.codes:
                continue  # the kata itself already drills this fault
            try:
                mutation = break_source(fixed, op.name, filename=str(solution))
            except BreakError:
                continue
            source = f"{meta.id} solution, with '{op.name}'"
            rounds.append(
                Round(
                    "fault",
                    meta,
                    source,
                    op.code,
                    (op.code,),
                    name,
                    mutation.source,
                    fixed,
                    _generic_hints(op.code, fixed, mutation.source),
                )
            )
    return rounds


def _generic_hints(code: str, fixed: str, broken: str) -> tuple[str, ...]:
    from diagnostics import CATALOGUE

    family = CATALOGUE[code].family
    line = first_changed_line(fixed, broken)
    return (
        f"Look at {_FAMILY_WORDS.get(family, family)}.",
        f"Look closely at line {line} and the lines around it.",
    )


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


def diagnose(round_: Round) -> Any:
    """Really run the broken code under diagnostics.watch(); its Report, or None."""
    import diagnostics

    from ._loader import KataLoadError, load_file

    meta = round_.meta
    with tempfile.TemporaryDirectory(prefix="kata-drill-") as tmp:
        folder = Path(tmp)
        for name in meta.files:  # the other files of the kata, for the broken one's imports
            if (meta.solution_dir / name).is_file():
                shutil.copy(meta.solution_dir / name, folder / name)
        path = folder / round_.file
        path.write_text(round_.broken, encoding="utf-8")
        with contextlib.ExitStack() as stack:
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))  # the epoch logs
            stack.enter_context(warnings.catch_warnings())  # torch's own warnings, shown
            warnings.simplefilter("ignore")  # better by the diagnosis itself
            if meta.accelerator:
                from .accelerator import accelerator

                stack.enter_context(accelerator())
            try:
                module = load_file(path, label=f"drill_{meta.day_name}_{meta.name}")
            except KataLoadError:
                return None
            train = getattr(module, "train", None)
            if not callable(train):
                return None
            try:
                with diagnostics.watch() as report:
                    train(seed=0)
            except Exception:
                pass  # a crash is part of the diagnosis (devices, shapes, no-grad training)
    return report
