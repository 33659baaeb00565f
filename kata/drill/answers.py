"""Answers as people give them: a letter, a finding code, or a phrase ("forgot zero_grad").

A free-text answer is matched against a table of phrasings per finding code. A phrasing is a
small pattern: terms joined by ``+`` must all occur in the answer, in any order; ``|``
separates alternatives of one term; a term may be several words, which must follow each
other; a word ending in ``*`` matches any word it begins. Case, punctuation, ``_``, ``-``,
``.`` and ``()`` do not matter: ``model.eval()`` and ``model eval`` read the same.

The phrasing with the most terms wins, so "zero_grad after backward" (two terms of
grads-cleared-before-step) beats "zero_grad" alone (one term of grad-accumulation). An answer
whose best phrasings of two codes tie is ambiguous, and the drill asks again. The same
patterns score the key points of an interview answer (``kata/drill/interview.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

__all__ = [
    "ALIASES",
    "EXAMPLES",
    "NOTHING",
    "Reading",
    "matches",
    "read_answer",
    "words",
]

NOTHING = "nothing"  # the expected answer of a round that shows a correct loop

_MISSING = "forgot*|forget*|missing|miss|without|never|lack*|skip*|omit*|drop*|remov*|not"
_MISSING_NO = _MISSING + "|no"  # not where the phrase itself holds a "no" (no_grad)

# Code -> phrasings. The first two of each are shown to a learner whose answer was not read.
ALIASES: dict[str, tuple[str, ...]] = {
    NOTHING: (
        "nothing + wrong|bug*|fault*|broken",
        "nothing",
        "no + bug*|fault*|problem*|issue*|error*|mistake*",
        "correct|fine|ok|okay|good|right",
        "not + wrong|broken|buggy",
    ),
    "grad-accumulation": (
        f"{_MISSING_NO} + zero grad",
        "grad*|gradient* + accumulat*|pile*|sum*|add up|adds up|build up|builds up|stack*",
        "zero grad",
        "grad* never + clear*|reset*|zero*",
        "accumulat*",
    ),
    "grads-cleared-before-step": (
        "zero grad + after|between + backward",
        "zero grad + before + step",
        "grad* + clear*|zero*|wip*|reset* + before + step",
        "step + changes nothing|does nothing|no effect|zero grad*|no grad*",
        "clear*|zero* + too early|before the step|after backward",
    ),
    "params-not-updating": (
        "optimizer + copy|wrong model|other model|different model|old model|another model",
        "param* + not|never + updat*|train*|chang*|optimi*",
        "weight* + not|never + updat*|chang*",
        "param* + not in|missing from + optimizer",
    ),
    "no-grad-training": (
        "train* + no grad|inference mode",
        "detach*",
        "no grad + backward|train*|forward|loss",
        "requires grad + off|false|not|missing",
        "loss + no|without + graph",
        "no + graph",
    ),
    "non-finite-loss": (
        "nan|inf|infinite|infinity|non finite|not finite",
        "learning rate|lr + too + high|big|large",
        "diverg*|explod*|blow* up|blew up",
        "huge + lr|learning rate",
    ),
    "train-mode-in-eval": (
        f"{_MISSING_NO} + model eval|eval mode|eval",
        "dropout|batchnorm|batch norm|bn + on|active|train* + during|in + validat*|eval*|test*",
        "validat*|evaluat*|test* + in|during + train mode|training mode",
        "eval + not called|never called",
        "batchnorm|batch norm|bn|running + statistic*|stats|mean* + validat*|eval*|test*",
    ),
    "eval-mode-in-training": (
        f"{_MISSING_NO} + model train|train mode|train",
        "eval mode + during|while|in + train*",
        "train* + in + eval mode",
        "never + back|restor* + train*",
        "dropout|batchnorm|batch norm|bn + off|disabled|inactive + train*",
    ),
    "eval-without-no-grad": (
        f"{_MISSING} + no grad|inference mode",
        "evaluat*|validat*|eval* + build*|graph*|memory|autograd",
        "graph* + evaluat*|validat*|eval*",
        "evaluat*|validat* + without + no grad",
        "eval*|evaluat*|validat*|test* + not|outside|isnt + no grad|inference mode",
    ),
    "device-mismatch": (
        "device* + mismatch*|different|wrong|mix*",
        "cpu + gpu|cuda|device|accelerator",
        f"{_MISSING_NO} + to device|to cuda|cuda|device",
        "tensor*|batch*|model|input*|data + on|left on + cpu|wrong device",
        "device*",
    ),
    "shape-mismatch": (
        "shape* + mismatch*|wrong|error|incompatible|differ*",
        "dimension*|dim|dims|size* + mismatch*|wrong|error",
        "channel* + wrong|last|first|mismatch*|order",
        "batch + of + one|1",
        "shape*",
    ),
    "loss-broadcast": (
        "broadcast*",
        "target + shape*|flatten*|squeeze*|unsqueeze*",
        "n 1 + n",
        "loss + input|target + different + shape*",
    ),
    "softmax-before-cross-entropy": (
        "softmax + before|then|into|in + cross entropy|loss|crossentropy*",
        "double + softmax",
        "cross entropy|crossentropy* + probabilit*",
        "softmax",
        "log softmax|nll*",
    ),
    "scheduler-before-optimizer": (
        "schedul*|lr scheduler + before + optimizer*|step",
        "schedul* + step* + first|early|order",
        "schedul* + first|too early|before",
        "optimizer + step + after + schedul*",
    ),
    "scheduler-per-batch": (
        "schedul* + per|every|each|inside + batch*|iteration*|loop",
        "schedul* + too + often|fast",
        "lr + decay*|drop*|shrink* + too + fast|quick*|early",
    ),
    "state-dict-alias": (
        "state dict + alias*|reference*|copy|deepcopy|clone|same tensor*|shared",
        f"{_MISSING_NO} + deepcopy|deep copy|copy|clone",
        "best + weight*|model|state + overwritten|changes|updated|not saved|alias*|live",
        "alias*",
    ),
    "adam-weight-decay": (
        "adam + weight decay|l2|decay",
        "adamw|adam w",
        "coupled + decay|l2|weight decay",
        "weight decay + adam*|decoupl*|coupl*",
        "l2 + instead|not + decay|decoupl*",
    ),
    "loss-diverging": (
        "loss + diverg*|grow*|climb*|explod*|blow* up + finite|without nan|no nan|never nan",
        "diverg* + without|no|never|not + nan|inf",
        "loss + keeps + grow*|climb*|increas*|rising",
        "loss + orders of magnitude|huge + lr|learning rate",
    ),
    "clip-after-step": (
        "clip* + after + step|update|optimizer",
        "clip* + too late|late",
        "step + before + clip*",
    ),
    "clip-before-unscale": (
        "clip* + before|without|no|missing + unscal*",
        f"{_MISSING_NO} + unscal*",
        "unscal* + after|before + clip*",
        "clip* + scaled + grad*|gradient*",
    ),
    "sampler-epoch-not-set": (
        "set epoch|set_epoch",
        "sampler + same order|same shuffle|epoch + not set|never set|missing|forgot",
        "distributedsampler|distributed sampler + shuffl*|epoch|order",
        "every|each + epoch + same + order|shuffle|batches",
    ),
    "ranks-out-of-sync": (
        "rank* + out of sync|differ*|diverg*|desync*|not synced",
        "model module + forward|bypass*|skip*",
        "ddp + bypass*|skipped|no sync|out of sync",
    ),
    "state-dict-module-prefix": (
        "module + prefix",
        "prefix + state dict|checkpoint|key*",
        "ddp + checkpoint|state dict + plain|load*",
    ),
}


# Code -> answers in a person's words, shown when an answer was not understood. Each must be
# read as its code (a test checks it), so the examples never promise what is not accepted.
EXAMPLES: dict[str, tuple[str, ...]] = {
    NOTHING: ("nothing is wrong", "it is correct", "no bug"),
    "grad-accumulation": ("forgot zero_grad", "gradients accumulate", "zero_grad missing"),
    "grads-cleared-before-step": ("zero_grad after backward", "grads cleared before step"),
    "params-not-updating": ("optimizer over a copy of the model", "params never updated"),
    "no-grad-training": ("training under no_grad", "detached loss", "loss has no graph"),
    "non-finite-loss": ("loss goes NaN", "learning rate too high", "training diverges"),
    "train-mode-in-eval": (
        "missing model.eval()",
        "dropout on during validation",
        "forgot eval mode",
    ),
    "eval-mode-in-training": ("forgot model.train()", "eval mode during training"),
    "eval-without-no-grad": ("evaluation without no_grad", "eval builds graphs"),
    "device-mismatch": ("batch left on the CPU", "device mismatch", "forgot .to(device)"),
    "shape-mismatch": ("shape mismatch", "wrong channel order", "batch of one"),
    "loss-broadcast": ("target shape broadcasts", "(N, 1) vs (N,) target"),
    "softmax-before-cross-entropy": ("softmax before cross entropy", "double softmax"),
    "scheduler-before-optimizer": ("scheduler.step() before optimizer.step()",),
    "scheduler-per-batch": ("scheduler stepped every batch", "lr decays too fast"),
    "state-dict-alias": ("best state dict is not a copy", "forgot deepcopy"),
    "adam-weight-decay": ("Adam with weight decay instead of AdamW", "coupled L2"),
    "loss-diverging": ("loss diverges without NaN", "the loss keeps growing"),
    "clip-after-step": ("clipping after optimizer.step()", "clip_grad_norm_ too late"),
    "clip-before-unscale": ("clipping before unscale_", "forgot scaler.unscale_"),
    "sampler-epoch-not-set": ("forgot sampler.set_epoch(epoch)", "every epoch the same order"),
    "ranks-out-of-sync": ("the ranks are out of sync", "forward through model.module"),
    "state-dict-module-prefix": ("the module. prefix of a DDP checkpoint", "key prefix mismatch"),
}


def words(text: str) -> tuple[str, ...]:
    """``text`` as lower-case words: punctuation, ``_``, ``-``, ``.`` and ``()`` are spaces."""
    return tuple(re.sub(r"[^a-z0-9]+", " ", text.lower().replace("'", "")).split())


@dataclass(frozen=True)
class _Term:
    alternatives: tuple[tuple[str, ...], ...]  # each a run of words ('*' = prefix)

    def found_in(self, said: tuple[str, ...]) -> bool:
        return any(_run_in(alt, said) for alt in self.alternatives)


def _run_in(run: tuple[str, ...], said: tuple[str, ...]) -> bool:
    for start in range(len(said) - len(run) + 1):
        if all(_word_matches(w, said[start + i]) for i, w in enumerate(run)):
            return True
    return False


def _word_matches(pattern: str, word: str) -> bool:
    if pattern.endswith("*"):
        return word.startswith(pattern[:-1])
    return word == pattern


@cache
def _compile(pattern: str) -> tuple[_Term, ...]:
    terms = []
    for part in pattern.split("+"):
        runs = (tuple(_pattern_words(alt)) for alt in part.split("|"))
        alternatives = tuple(run for run in runs if run)
        if not alternatives:
            raise ValueError(f"empty term in the answer pattern {pattern!r}")
        terms.append(_Term(alternatives))
    return tuple(terms)


def _pattern_words(text: str) -> list[str]:
    # Like words(), but keeps a trailing '*' on a word.
    return [w for w in re.sub(r"[^a-z0-9*]+", " ", text.lower()).split() if w != "*"]


def matches(pattern: str, said: str | tuple[str, ...]) -> bool:
    """Whether every term of ``pattern`` occurs in the answer ``said``."""
    tokens = words(said) if isinstance(said, str) else said
    return all(term.found_in(tokens) for term in _compile(pattern))


def _strength(code: str, said: tuple[str, ...]) -> int:
    """How many terms the best phrasing of ``code`` that the answer matches has (0: none)."""
    best = 0
    for pattern in ALIASES.get(code, ()):
        terms = _compile(pattern)
        if len(terms) > best and all(t.found_in(said) for t in terms):
            best = len(terms)
    return best


@dataclass(frozen=True)
class Reading:
    """What an answer was read as: one code, several (ambiguous), or none."""

    codes: tuple[str, ...]
    how: str  # "letter", "code", "phrase" or "" (not read)

    @property
    def code(self) -> str | None:
        return self.codes[0] if len(self.codes) == 1 else None


def read_answer(raw: str, choices: dict[str, str]) -> Reading:
    """Read ``raw`` against a round's ``choices`` (letter -> code).

    A letter or a code (the catalogue's, or "nothing") is read as such; anything else is
    matched against the phrasings of every code. Phrases are read against the whole
    catalogue, not only the choices shown, so a wrong guess is not turned into a right one.
    """
    text = raw.strip().lower().rstrip(")").strip()
    if text in choices:
        return Reading((choices[text],), "letter")
    known = _known_codes()
    as_code = "-".join(words(text))
    if as_code in known:
        return Reading((as_code,), "code")
    said = words(text)
    if not said:
        return Reading((), "")
    strengths = {code: _strength(code, said) for code in known}
    top = max(strengths.values())
    if top == 0:
        return Reading((), "")
    best = tuple(sorted(c for c, s in strengths.items() if s == top))
    return Reading(best, "phrase")


def _known_codes() -> tuple[str, ...]:
    from diagnostics import CATALOGUE

    return (NOTHING, *CATALOGUE)
