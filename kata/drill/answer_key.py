"""The drill's answer key: a code round counts only if its code really does what it claims.

A fault round is kept only when running its exact code under ``diagnostics.watch()`` reports
exactly the codes it expects (no more, no fewer): a fault that is a no-op on that model (an
equivalent mutant, such as dropping ``model.eval()`` from a model without dropout or
BatchNorm) or a fault the run does not show (a learning rate that does not diverge) is
never asked. A correct loop is kept only when the run reports nothing and does not crash.

Verdicts are kept in ``.kata/drill-verdicts.json``, keyed by a hash of everything the run
depends on: the code shown, the kata's other files, the diagnostics' own source and the
torch version. A changed kata, operator or check is a new key, verified afresh, so a verdict
is never stale; an unchanged one is never run twice for its verdict.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from kata.report import write_json

from .answers import NOTHING
from .rounds import Round, Run, diagnose

__all__ = ["VERDICTS_FILE", "AnswerKey", "Verdict"]

VERDICTS_FILE = "drill-verdicts.json"
_VERSION = 1


@dataclass(frozen=True)
class Verdict:
    codes: tuple[str, ...]  # what the diagnostics reported
    ran: bool  # False: the code could not be loaded, or train() is missing
    crashed: str = ""

    def confirms(self, round_: Round) -> bool:
        if not self.ran:
            return False
        if round_.code == NOTHING:
            return not self.codes and not self.crashed
        return set(self.codes) == set(round_.codes)

    def to_dict(self) -> dict[str, Any]:
        return {"codes": list(self.codes), "ran": self.ran, "crashed": self.crashed}


@dataclass
class AnswerKey:
    """Verdicts for rounds, read from and written to ``path`` (None: kept in memory only)."""

    path: Path | None
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)  # this session's runs, for the reveal
    ran: int = 0  # rounds run to verify them in this session
    _dirty: bool = False

    @classmethod
    def load(cls, path: Path | None) -> AnswerKey:
        key = cls(path)
        if path is None or not path.is_file():
            return key
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == _VERSION and data.get("fingerprint") == fingerprint():
                for digest, item in data["verdicts"].items():
                    key.verdicts[digest] = Verdict(
                        tuple(item["codes"]), bool(item["ran"]), str(item.get("crashed", ""))
                    )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            key.verdicts.clear()  # a cache: an unreadable one is rebuilt, nothing is lost
            key._dirty = True
        return key

    def verdict(self, round_: Round) -> Verdict:
        digest = round_digest(round_)
        if digest not in self.verdicts:
            run = diagnose(round_)
            self.ran += 1
            self.runs[digest] = run
            self.verdicts[digest] = Verdict(run.codes, run.report is not None, run.crashed)
            self._dirty = True
        return self.verdicts[digest]

    def confirms(self, round_: Round) -> bool:
        return self.verdict(round_).confirms(round_)

    def run(self, round_: Round) -> Run:
        """The round's run (this session's, or a new one): what the reveal shows."""
        digest = round_digest(round_)
        if digest not in self.runs:
            self.runs[digest] = diagnose(round_)
        return self.runs[digest]

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        write_json(
            self.path,
            {
                "version": _VERSION,
                "fingerprint": fingerprint(),
                "verdicts": {d: v.to_dict() for d, v in sorted(self.verdicts.items())},
            },
        )
        self._dirty = False


def round_digest(round_: Round) -> str:
    """A hash of everything the run of ``round_`` depends on."""
    h = hashlib.sha256(fingerprint().encode())
    h.update(b"\0" + round_.file.encode() + b"\0" + round_.broken.encode())
    meta = round_.meta
    if meta is not None:
        h.update(b"\0accelerator" if meta.accelerator else b"\0cpu")
        for name in meta.files:
            other = meta.solution_dir / name
            if name != round_.file and other.is_file():
                h.update(b"\0" + name.encode() + b"\0" + other.read_bytes())
    return h.hexdigest()


@cache
def fingerprint() -> str:
    """The diagnostics' source, the fixtures' and torch's version: what every verdict rests on."""
    import torch

    import diagnostics
    import kata_fixtures

    h = hashlib.sha256(torch.__version__.encode())
    for package in (diagnostics, kata_fixtures):
        root = Path(str(package.__file__)).parent
        for path in sorted(root.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            h.update(os.fsencode(path.relative_to(root)) + b"\0" + path.read_bytes())
    return h.hexdigest()
