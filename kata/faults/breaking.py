"""Breaking a script: apply the fault operator(s) that a name or a finding code names.

Each operator rewrites the syntax tree of a working script in one realistic way (forget
``zero_grad()``, step the scheduler first, drop ``model.eval()``...) and names the finding code
the diagnostics must report on the result. The edits keep every other line, comment and
blank line as written, so a broken file reads like a learner's own code. Applied to the
solutions and run under ``diagnostics.watch()``, the operators double as a mutation test of
the diagnostics: each must produce exactly its code. The operators are registered in
``operators``, next to their code; the script they read is ``script``.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass

from .operators import OPERATORS, Operator
from .script import NotFound, Script
from .source import first_changed_line

__all__ = ["OPERATORS", "BreakError", "Mutation", "Operator", "break_source", "operators_for"]


class BreakError(Exception):
    """An operator that does not apply, or a fault nobody knows; the message says which."""


@dataclass(frozen=True)
class Mutation:
    source: str  # the broken script
    operator: Operator
    line: int  # first changed line of the broken script
    original: str  # the correct script it was made from

    def diff(self, *, name: str = "train.py") -> str:
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True),
                self.source.splitlines(keepends=True),
                f"{name} (correct)",
                f"{name} (broken)",
            )
        )


def operators_for(fault: str) -> list[Operator]:
    """The operators ``--fault`` names: one operator, or every operator of a finding code."""
    if fault in OPERATORS:
        return [OPERATORS[fault]]
    matching = [op for op in OPERATORS.values() if op.code == fault]
    if matching:
        return matching
    known = sorted({*OPERATORS, *(op.code for op in OPERATORS.values())})
    close = difflib.get_close_matches(fault, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise BreakError(
        f"Unknown fault {fault!r}.{hint} Run 'kata break --list' to see every operator "
        "and the finding code it produces."
    )


def break_source(source: str, fault: str, *, filename: str = "<source>") -> Mutation:
    """Apply the operator(s) that ``fault`` names; the first that applies wins.

    Raises BreakError naming the operator and what it looked for when none applies, or when
    the source does not parse.
    """
    operators = operators_for(fault)
    refusals = []
    for operator in operators:
        try:
            script = Script(source, filename=filename)
        except SyntaxError as exc:
            raise BreakError(
                f"{filename}:{exc.lineno}: cannot read the script: {exc.msg}. "
                "Fix the syntax error, then run 'kata break' again."
            ) from None
        try:
            operator.apply(script)
        except NotFound:
            refusals.append(f"operator {operator.name!r} looked for {operator.looks_for}")
            continue
        broken = script.result()
        _check_parses(broken, operator, filename)
        return Mutation(broken, operator, first_changed_line(source, broken), source)
    if len(refusals) == 1:
        raise BreakError(f"{filename}: {refusals[0]} and found none, so it does not apply.")
    raise BreakError(
        f"{filename}: no operator for {fault!r} applies: "
        + "; ".join(refusals)
        + "; none was found."
    )


def _check_parses(broken: str, operator: Operator, filename: str) -> None:
    try:
        ast.parse(broken)
    except SyntaxError as exc:  # an operator bug, not the user's: say so plainly
        raise BreakError(
            f"{filename}: operator {operator.name!r} produced invalid Python at line "
            f"{exc.lineno} ({exc.msg}); the script's layout is one it cannot edit."
        ) from None
