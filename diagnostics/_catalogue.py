"""The one table of finding codes: docs, the CLI's ``--allow`` and the tests all read it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    """How bad a finding is.

    An ``error`` fails a run; a ``warning`` is advice that fails a run only when asked to
    (``--strict``, ``pytest --diagnose-strict``) and always fails a kata; ``info`` never fails.
    """

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def fails(self) -> bool:
        """Does it fail a strict run (and a kata)? Errors and warnings do."""
        return self is not Severity.INFO


@dataclass(frozen=True)
class CodeInfo:
    code: str
    severity: Severity
    family: str  # the module in diagnostics/_checks that detects it
    summary: str


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

CATALOGUE: dict[str, CodeInfo] = {
    info.code: info
    for info in (
        CodeInfo(
            "grad-accumulation",
            _E,
            "gradients",
            "optimizer.step() uses gradients that an earlier step already used (zero_grad missing)",
        ),
        CodeInfo(
            "grads-cleared-before-step",
            _E,
            "gradients",
            "gradients cleared after backward() and before step(): the step changes nothing",
        ),
        CodeInfo(
            "params-not-updating",
            _E,
            "gradients",
            "parameters get gradients but are in no optimizer, or the optimizer's parameters "
            "never get gradients",
        ),
        CodeInfo(
            "no-grad-training",
            _E,
            "gradients",
            "backward() on a loss with no graph: trained under no_grad, a detached loss, "
            "or requires_grad off",
        ),
        CodeInfo("non-finite-loss", _E, "gradients", "the loss became NaN or inf"),
        CodeInfo(
            "train-mode-in-eval",
            _E,
            "modes",
            "dropout or BatchNorm in training mode during evaluation",
        ),
        CodeInfo(
            "eval-mode-in-training",
            _E,
            "modes",
            "dropout or BatchNorm of a model being optimized left in eval mode while it trains",
        ),
        CodeInfo(
            "eval-without-no-grad",
            _I,
            "modes",
            "evaluation forwards build autograd graphs that are never used",
        ),
        CodeInfo("device-mismatch", _E, "devices", "tensors on different devices meet"),
        CodeInfo("shape-mismatch", _E, "shapes", "a module or op fails on the shapes it is given"),
        CodeInfo(
            "loss-broadcast",
            _E,
            "losses",
            "a loss gets input and target of different shapes that silently broadcast",
        ),
        CodeInfo(
            "softmax-before-cross-entropy",
            _E,
            "losses",
            "probabilities fed to CrossEntropyLoss, or NLLLoss fed non-log-probabilities",
        ),
        CodeInfo(
            "scheduler-before-optimizer",
            _E,
            "schedulers",
            "lr_scheduler.step() called before optimizer.step()",
        ),
        CodeInfo(
            "scheduler-per-batch", _E, "schedulers", "an epoch-style scheduler stepped every batch"
        ),
        CodeInfo(
            "state-dict-alias",
            _E,
            "checkpoints",
            "a saved 'best' state_dict() aliases the live parameters",
        ),
        CodeInfo(
            "adam-weight-decay",
            _W,
            "optimizers",
            "Adam-family optimizer with weight_decay > 0: coupled L2, not AdamW's decay",
        ),
        CodeInfo(
            "sampler-epoch-not-set",
            _E,
            "distributed",
            "a shuffling DistributedSampler iterated for several epochs without set_epoch(epoch)",
        ),
        CodeInfo(
            "ranks-out-of-sync",
            _E,
            "distributed",
            "the parameters of a DDP model differ across ranks after a step",
        ),
        CodeInfo(
            "state-dict-module-prefix",
            _E,
            "distributed",
            "a checkpoint's keys differ from the model's by DDP's 'module.' prefix",
        ),
        CodeInfo(
            "loss-diverging",
            _E,
            "divergence",
            "the training loss climbs orders of magnitude above its start and stays there, "
            "still finite",
        ),
        CodeInfo(
            "clip-after-step",
            _E,
            "clipping",
            "gradients clipped after optimizer.step() used them: the clip changes nothing applied",
        ),
        CodeInfo(
            "clip-before-unscale",
            _E,
            "clipping",
            "gradients scaled by a GradScaler clipped before scaler.unscale_(optimizer)",
        ),
    )
}


class UnknownCodeError(ValueError):
    """A finding code that is not in the catalogue."""


def check_codes(codes: object) -> tuple[str, ...]:
    """Validate ``allow``-style code lists, suggesting the closest code for typos."""
    if isinstance(codes, str):
        codes = (codes,)
    result = []
    for code in codes:  # type: ignore[attr-defined]
        if code not in CATALOGUE:
            close = difflib.get_close_matches(str(code), CATALOGUE, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownCodeError(
                f"Unknown finding code {code!r}.{hint} "
                f"Run 'python -m diagnostics --list-codes' to see every code."
            )
        result.append(code)
    return tuple(result)
