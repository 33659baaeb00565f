"""The learner's progress: ``.kata/progress.json`` at the course root.

Format (version 1)::

    {"version": 1,
     "katas": {"day11/01_zero_grad": {"status": "solved", "hints_used": 1,
                                      "last_run": "2025-01-31T10:00:00+00:00"}}}

``status`` is "solved" or "failing"; ``hints_used`` counts the hints shown (0 to 3); ``blind``
(present only when true) says the kata was solved with its diagnosis withheld.

Two ``kata`` commands may run at once (``kata watch`` in one terminal, ``kata hint`` in
another). So a :class:`Progress` remembers the changes made to it, and :meth:`Progress.save`
applies them to the file as it is on disk *now*, under an exclusive lock, then writes it
atomically (kata/atomic.py): no change is lost and an interrupted run never leaves half a file.

A file that cannot be read (not JSON, not this format, nested too deeply, too large) is
reported with a :class:`ProgressWarning`, kept next to it as ``progress.json.corrupt`` and
rebuilt: progress is never a reason to crash. A file that cannot be written raises
:class:`ProgressSaveError`, whose message is the one line to show; the command goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kata.atomic import locked, write_atomic

from .meta import HINT_COUNT

__all__ = ["MAX_BYTES", "Progress", "ProgressSaveError", "ProgressWarning", "load"]

VERSION = 1
STATUSES = ("solved", "failing")
PROGRESS_DIR = ".kata"
PROGRESS_FILE = "progress.json"
# A progress file holds a few lines per kata: anything this large is not one.
MAX_BYTES = 4 * 1024 * 1024

_Change = Callable[[dict[str, dict[str, Any]]], None]


class ProgressWarning(UserWarning):
    """The progress file could not be read and was rebuilt."""


class ProgressSaveError(OSError):
    """The progress file could not be written; the message says where and what to do."""


def progress_path(root: Path | str) -> Path:
    """Where the progress of the course at ``root`` is kept."""
    return Path(root) / PROGRESS_DIR / PROGRESS_FILE


@dataclass
class Progress:
    """The progress of one course. Change it with :meth:`mark` and :meth:`use_hint`."""

    path: Path
    katas: dict[str, dict[str, Any]] = field(default_factory=dict)
    problem: str | None = None  # why the file on disk was rebuilt, if it was
    _changes: list[_Change] = field(default_factory=list, repr=False, compare=False)

    def status(self, kata_id: str) -> str | None:
        """ "solved", "failing", or None for a kata never run."""
        return self.katas.get(kata_id, {}).get("status")

    def hints_used(self, kata_id: str) -> int:
        """How many hints of this kata the learner has seen (0 to 3)."""
        return int(self.katas.get(kata_id, {}).get("hints_used", 0))

    def solved_blind(self, kata_id: str) -> bool:
        """Was the kata solved with its diagnosis withheld (``--kata-blind``)?"""
        return bool(self.katas.get(kata_id, {}).get("blind", False))

    def mark(
        self, kata_id: str, status: str, *, when: datetime | None = None, blind: bool = False
    ) -> None:
        """Record the outcome of a run of ``kata_id``; ``blind``: a run with the diagnosis
        withheld, which makes a new solve a blind one. Call :meth:`save` to keep it."""
        if status not in STATUSES:
            raise ValueError(f"A kata's status is one of {STATUSES}, not {status!r}.")
        stamp = (when or datetime.now(timezone.utc)).isoformat(timespec="seconds")

        def change(katas: dict[str, dict[str, Any]]) -> None:
            entry = _entry(katas, kata_id)
            if entry.get("status") != "solved" or status != "solved":  # a new solve, or none
                entry.pop("blind", None)
                if status == "solved" and blind:
                    entry["blind"] = True
            entry["status"] = status
            entry["last_run"] = stamp

        self._apply(change)

    def use_hint(self, kata_id: str) -> int:
        """Count one more hint seen; return its number (1 to 3; stays 3 once all are seen)."""

        def change(katas: dict[str, dict[str, Any]]) -> None:
            entry = _entry(katas, kata_id)
            entry["hints_used"] = min(int(entry.get("hints_used", 0)) + 1, HINT_COUNT)

        self._apply(change)
        return self.hints_used(kata_id)

    def forget_run(self, kata_id: str) -> None:
        """The kata is as shipped again (``kata reset``): not solved, not tried; hints stay seen."""

        def change(katas: dict[str, dict[str, Any]]) -> None:
            entry = katas.get(kata_id)
            if entry is not None:
                entry.pop("status", None)
                entry.pop("last_run", None)
                entry.pop("blind", None)

        self._apply(change)

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, "katas": {k: dict(v) for k, v in sorted(self.katas.items())}}

    def save(self) -> None:
        """Apply this object's changes to the file as it is now, under a lock; write it atomically.

        Raises :class:`ProgressSaveError` when ``.kata/`` or the file cannot be written.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with locked(self.path):
                katas = self._on_disk()
                for change in self._changes:
                    change(katas)
                self.katas = katas
                write_atomic(self.path, json.dumps(self.to_dict(), indent=2) + "\n")
        except OSError as exc:
            raise ProgressSaveError(
                f"The progress file {self.path} could not be written "
                f"({exc.strerror or exc}); this command's progress is not kept. Make "
                f"{self.path.parent} writable (chmod u+w) to keep it."
            ) from exc
        self._changes.clear()

    def _apply(self, change: _Change) -> None:
        change(self.katas)
        self._changes.append(change)

    def _on_disk(self) -> dict[str, dict[str, Any]]:
        """The file's current content (called under the lock); a corrupt one is kept aside."""
        if not self.path.exists():
            return {}
        try:
            return _parse(_read(self.path))
        except (UnicodeDecodeError, ValueError):
            os.replace(self.path, _corrupt_path(self.path))
            return {}


def _entry(katas: dict[str, dict[str, Any]], kata_id: str) -> dict[str, Any]:
    # No status until the kata runs: asking for a hint first is not trying it.
    return katas.setdefault(kata_id, {"hints_used": 0})


def load(root: Path | str, *, repair: bool = True, warn: bool = True) -> Progress:
    """Read the progress of the course at ``root``; empty if there is none yet.

    A corrupt file is replaced by empty progress and ``Progress.problem`` says why. With
    ``repair`` the file is moved aside to ``progress.json.corrupt`` and rebuilt on disk (pass
    ``repair=False`` to only read, e.g. from parallel test workers); with ``warn`` a
    :class:`ProgressWarning` is issued.
    """
    path = progress_path(root)
    if not path.exists():
        return Progress(path)
    try:
        katas = _parse(_read(path))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return _rebuild(path, str(exc), repair=repair, warn=warn)
    return Progress(path, katas)


def _read(path: Path) -> Any:
    """The decoded JSON of ``path``; ValueError for a file too large or nested too deeply."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"it is {size} bytes, far more than a progress file holds")
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("its JSON is nested too deeply") from None


def _corrupt_path(path: Path) -> Path:
    return path.with_name(path.name + ".corrupt")


def _parse(data: Any) -> dict[str, dict[str, Any]]:
    """Validate a decoded progress file; ValueError says what is wrong."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise ValueError(f"expected version {VERSION}, found {version!r}")
    katas = data.get("katas")
    if not isinstance(katas, dict):
        raise ValueError("'katas' is not an object")
    for kata_id, entry in katas.items():
        if not isinstance(entry, dict):
            raise ValueError(f"the entry of {kata_id!r} is not an object")
        if "status" in entry and entry["status"] not in STATUSES:  # no status: not run yet
            raise ValueError(f"{kata_id!r} has status {entry.get('status')!r}")
        hints = entry.get("hints_used", 0)
        if type(hints) is not int or not 0 <= hints <= HINT_COUNT:
            raise ValueError(f"{kata_id!r} has hints_used {hints!r}")
    return katas


def _rebuild(path: Path, reason: str, *, repair: bool, warn: bool) -> Progress:
    kept = ""
    if repair:
        backup = _corrupt_path(path)
        try:
            os.replace(path, backup)
            kept = f" The unreadable file was kept as {backup}."
        except OSError:
            pass
    problem = (
        f"The progress file {path} could not be read ({reason}); it was started afresh, "
        f"so solved katas and hints used count from now on.{kept}"
    )
    if warn:
        warnings.warn(ProgressWarning(problem), stacklevel=3)
    progress = Progress(path, problem=problem)
    if repair and kept:
        with contextlib.suppress(ProgressSaveError):  # the next save says so, in one line
            progress.save()
    return progress
