"""The course a command works on: where it is, its katas, and naming them as a learner does."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import meta as _meta
from . import progress as _progress
from .meta import KataMeta, KataMetaError

__all__ = ["STATE_DIR", "CommandError", "Course"]

STATE_DIR = ".kata"  # the learner's local state: progress, backups, drill history (git-ignored)

_DAY = re.compile(r"(?:day)?0*(\d+)")


class CommandError(Exception):
    """A problem the user can fix; shown as one line, without a traceback."""


@dataclass
class Course:
    """A course root: the folder holding ``katas/`` and ``solutions/``."""

    root: Path
    _metas: list[KataMeta | KataMetaError] | None = field(default=None, repr=False)

    @classmethod
    def locate(cls, root: str | Path | None) -> Course:
        """The course at ``root``, or the nearest one above the current folder."""
        if root is not None:
            path = Path(root).resolve()
            if not (path / "katas").is_dir():
                raise CommandError(
                    f"{path} is not a course: it has no katas/ folder. Pass the folder that "
                    "holds katas/ and solutions/ with --root."
                )
            return cls(path)
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            if (folder / "katas").is_dir():
                return cls(folder)
        raise CommandError(
            f"No course found: neither {here} nor a folder above it has a katas/ folder. "
            "Run kata from the course folder, or pass it with --root."
        )

    # -- katas ------------------------------------------------------------------------------
    @property
    def katas_dir(self) -> Path:
        return self.root / "katas"

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def entries(self) -> list[KataMeta | KataMetaError]:
        """Every kata in course order, each day ramping from basic to advanced (by number within
        a level); a kata with broken metadata is its error, not a crash."""
        if self._metas is None:
            loaded: list[KataMeta | KataMetaError] = []
            for kata_dir in _meta.kata_dirs(self.root):
                try:
                    loaded.append(_meta.load(kata_dir))
                except KataMetaError as exc:
                    loaded.append(exc)
            self._metas = _ramped(loaded)
        return self._metas

    def katas(self) -> list[KataMeta]:
        """Every kata with valid metadata, in course order."""
        return [m for m in self.entries() if isinstance(m, KataMeta)]

    def find(self, name: str) -> KataMeta:
        """The kata a learner means: a path, ``day11/01``, ``day11/01_slug``, or a slug."""
        try:
            return _meta.find(self.root, name)
        except _meta.KataNotFoundError as exc:
            raise CommandError(f"{exc} Run 'kata list' to see every kata.") from None

    def days(self) -> list[int]:
        return sorted({m.day for m in self.katas()})

    def day(self, text: str) -> int:
        """Parse a day argument (``11``, ``day11``) that the course has."""
        match = _DAY.fullmatch(text.strip().lower())
        days = self.days()
        if match and int(match.group(1)) in days:
            return int(match.group(1))
        names = [f"day{d:02d}" for d in days]
        close = difflib.get_close_matches(text.strip().lower(), names, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        known = ", ".join(names) or "none"
        raise CommandError(f"No day {text!r} in this course (days: {known}).{hint}")

    def next_after(self, meta: KataMeta, progress: _progress.Progress) -> KataMeta | None:
        """The first unsolved kata after ``meta`` (wrapping around), or None."""
        katas = self.katas()
        ids = [m.id for m in katas]
        start = ids.index(meta.id) + 1 if meta.id in ids else 0
        for candidate in katas[start:] + katas[:start]:
            if candidate.id != meta.id and progress.status(candidate.id) != "solved":
                return candidate
        return None

    def first_unsolved(self, progress: _progress.Progress) -> KataMeta | None:
        return next((m for m in self.katas() if progress.status(m.id) != "solved"), None)

    # -- the learner's state -------------------------------------------------------------------
    def progress(self) -> _progress.Progress:
        """The progress file; a corrupt one is rebuilt (``.problem`` says so)."""
        return _progress.load(self.root, warn=False)

    def relative(self, path: Path) -> str:
        """A path as the learner would type it from the course root."""
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)


def _ramped(entries: list[KataMeta | KataMetaError]) -> list[KataMeta | KataMetaError]:
    """Each day's katas basic first, then intermediate, then advanced; stable otherwise."""
    days: dict[str, int] = {}
    for entry in entries:
        folder = entry.dir if isinstance(entry, KataMeta) else entry.path.parent
        days.setdefault(folder.parent.name, len(days))

    def key(entry: KataMeta | KataMetaError) -> tuple[int, int]:
        folder = entry.dir if isinstance(entry, KataMeta) else entry.path.parent
        return days[folder.parent.name], entry.level_rank if isinstance(entry, KataMeta) else 1

    return sorted(entries, key=key)


def solution_file(meta: KataMeta, name: str) -> Path:
    return meta.solution_dir / name
