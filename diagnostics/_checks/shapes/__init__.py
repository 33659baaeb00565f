"""Checks of the 'shapes' family: a module or op fails on the shapes it is given.

Each known error text has a rule that reads the shapes from the traceback's frames (the
module's input and its built sizes, the loss's input and target) and names the likely cause;
the numbers in the text are only the fallback when the frames hold no tensor.

The rules sit in ``layers`` and ``loss_inputs``, each registered with its error text by the
``@rule`` decorator (``rules``); ``ShapeChecks`` tries them in that order.
"""

from __future__ import annotations

import re

from .._base import Check
from .._crash import Crash, analyse, exception_chain
from . import layers, loss_inputs
from .rules import RULES, Explanation, first_line, operand_evidence, operands_text

# The modules whose @rule functions fill RULES, in the order they are tried.
RULE_MODULES = (layers, loss_inputs)


class ShapeChecks(Check):
    """Explain shape errors: the shapes, the module path and the likely cause."""

    family = "shapes"

    def on_exception(self, exc: BaseException) -> None:
        for err in exception_chain(exc):
            explanation, crash = _explain(err)
            if explanation is not None and crash is not None:
                self._emit(explanation, crash)
                return

    def _emit(self, explanation: Explanation, crash: Crash) -> None:
        evidence = list(explanation.evidence)
        if crash.module is not None and not any(k == "module" for k, _ in evidence):
            evidence.insert(0, ("module", crash.module.label))
        evidence.append(("error", first_line(crash.message)))
        if crash.expression:
            evidence.append(("line", crash.expression))
        self.emit(
            "shape-mismatch",
            message=explanation.message,
            fix=explanation.fix,
            location=crash.location,
            evidence=evidence,
        )


def _explain(err: BaseException) -> tuple[Explanation | None, Crash | None]:
    if not isinstance(err, (RuntimeError, ValueError, IndexError)):
        return None, None
    text = str(err)
    for pattern, rule in RULES:
        match = pattern.search(text)
        if match:
            crash = analyse(err)
            return rule(match, crash), crash
    if _looks_like_shapes(text):
        crash = analyse(err)
        if not crash.user_raised:
            return _generic(crash), crash
    return None, None


def _generic(crash: Crash) -> Explanation:
    module = crash.module
    if module is not None:
        what = module.label
    else:
        what = f"{crash.callee}()" if crash.callee else "an operation"
    shapes = operands_text(crash)
    return Explanation(
        f"{what} failed on the shapes it was given"
        + (f": {shapes}." if shapes else " (see the error text)."),
        "compare these shapes with what the operation expects (see the error below) and fix "
        "the layer sizes or the reshape that produced them.",
        operand_evidence(crash),
    )


_SHAPE_WORDS = re.compile(r"\b(?:size|shape|dimension|dim)s?\b", re.I)


_SHAPE_NUMBERS = re.compile(
    r"\[\s*\d+(?:\s*,\s*\d+)*\s*\]|\(\s*\d+(?:\s*[x,]\s*\d+)+\s*\)|\bsizes? \(?\d+|\d+ elements"
)


# Not shapes: a wrong index or a device mix-up (the devices check explains those).
_NOT_SHAPES = re.compile(r"\bindex|device", re.I)


def _looks_like_shapes(text: str) -> bool:
    return bool(
        _SHAPE_WORDS.search(text) and _SHAPE_NUMBERS.search(text) and not _NOT_SHAPES.search(text)
    )


__all__ = ["ShapeChecks"]
