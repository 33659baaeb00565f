"""The katas as shipped, kept by the project, and the learner's backups.

``kata reset`` must restore a kata exactly as the course ships it, whatever the learner did
with git. So the project keeps its own copy of each kata's files, next to the solution:
``solutions/dayNN/NN_slug/shipped/`` holds the learner's files (``train.py``), the kata's
tests (``test_kata.py``) and its ``kata.toml``. The solutions folder is the course author's,
never edited by the learner, and it is where the other version of the same files already
lives. ``kata ship`` records the copies (``kata new`` does it for a new kata) and ``kata
validate`` and the course's own tests fail when a kata's files and their shipped copy differ,
so that the copy cannot silently go stale.

The copy of the tests is what makes a verdict trustworthy: the kata plugin warns a learner
whose ``test_kata.py`` or ``kata.toml`` differs from it (the kata then cannot count as solved;
``kata reset --tests`` restores them), and ``kata grade`` runs these copies, never the
learner's.

Before a reset the learner's current files are copied to
``.kata/backups/dayNN/NN_slug/<time>/``: nothing is ever lost.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kata.atomic import write_atomic

from .course import STATE_DIR, CommandError
from .meta import META_FILE, TEST_FILE, KataMeta, course_root_of

__all__ = [
    "COURSE_FILES",
    "SHIPPED_DIR",
    "differences",
    "modified",
    "reset",
    "reset_tests",
    "ship",
    "shipped_dir_of",
    "shipped_file",
]

SHIPPED_DIR = "shipped"
COURSE_FILES = (
    TEST_FILE,
    META_FILE,
)  # the course's own files of a kata, as opposed to the learner's


def shipped_dir(meta: KataMeta) -> Path:
    return meta.solution_dir / SHIPPED_DIR


def shipped_file(meta: KataMeta, name: str) -> Path:
    return shipped_dir(meta) / name


def shipped_dir_of(kata_dir: Path) -> Path:
    """The shipped copy's folder of a kata folder, without loading its (maybe broken) kata.toml."""
    return (
        course_root_of(kata_dir) / "solutions" / kata_dir.parent.name / kata_dir.name / SHIPPED_DIR
    )


def modified(kata_dir: Path) -> list[str]:
    """The course files of a kata (test_kata.py, kata.toml) that differ from their shipped copy,
    or are missing. Empty when the course keeps no copy of them (nothing to compare with)."""
    shipped = shipped_dir_of(kata_dir)
    changed = []
    for name in COURSE_FILES:
        copy = shipped / name
        if copy.is_file() and not _same(kata_dir / name, copy):
            changed.append(name)
    return changed


def _same(path: Path, copy: Path) -> bool:
    try:
        return path.read_bytes() == copy.read_bytes()
    except OSError:
        return False


def differences(meta: KataMeta) -> list[str]:
    """Problems between a kata's files and their shipped copy, one sentence each."""
    problems = []
    for name in (*meta.files, *COURSE_FILES):
        copy = shipped_file(meta, name)
        if not copy.is_file():
            problems.append(f"{copy}: missing (the shipped copy of {meta.dir / name})")
        elif copy.read_bytes() != (meta.dir / name).read_bytes():
            problems.append(f"{meta.dir / name} differs from its shipped copy {copy}")
    return problems


def ship(meta: KataMeta) -> list[Path]:
    """Record the kata's files (the learner's, its tests, its kata.toml) as shipped; returns the
    copies written."""
    written = []
    for name in (*meta.files, *COURSE_FILES):
        target = shipped_file(meta, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, (meta.dir / name).read_bytes())
        written.append(target)
    return written


@dataclass(frozen=True)
class Reset:
    restored: list[str]  # file names put back as shipped
    unchanged: list[str]  # file names that were already as shipped
    backup: Path | None  # where the learner's versions were kept


def reset(meta: KataMeta, root: Path, *, now: datetime | None = None) -> Reset:
    """Back up the learner's files, then restore them as shipped."""
    return _restore(meta.dir, meta.files, root, now=now)


def reset_tests(kata_dir: Path, root: Path, *, now: datetime | None = None) -> Reset:
    """Back up the kata's test_kata.py and kata.toml, then restore them as shipped.

    Works from the folder alone: a kata.toml the learner broke must not stop its own repair.
    """
    return _restore(kata_dir, COURSE_FILES, root, now=now)


def _restore(kata_dir: Path, names: tuple[str, ...], root: Path, *, now: datetime | None) -> Reset:
    kata_id = f"{kata_dir.parent.name}/{kata_dir.name}"
    copies = {name: shipped_dir_of(kata_dir) / name for name in names}
    missing = [str(c) for c in copies.values() if not c.is_file()]
    if missing:
        raise CommandError(
            f"Cannot reset {kata_id}: its shipped copy is missing ({', '.join(missing)}). "
            f"The course author records it with 'kata ship {kata_id}'."
        )
    changed = [name for name, copy in copies.items() if not _same(kata_dir / name, copy)]
    unchanged = [name for name in names if name not in changed]
    if not changed:
        return Reset([], unchanged, None)
    backup = _backup_dir(root, kata_dir, now or datetime.now())
    try:
        backup.mkdir(parents=True)
        for name in changed:  # every copy is made before the first file is touched
            current = kata_dir / name
            if current.is_file():
                shutil.copy2(current, backup / name)
    except OSError as exc:
        raise CommandError(
            f"Cannot reset {kata_id}: your files could not be backed up to {backup} "
            f"({exc.strerror or exc}), so nothing was changed. Make {root / STATE_DIR} "
            "writable (chmod u+w), then run the reset again."
        ) from None
    for name in changed:
        write_atomic(kata_dir / name, copies[name].read_bytes())
    return Reset(changed, unchanged, backup)


def _backup_dir(root: Path, kata_dir: Path, now: datetime) -> Path:
    base = root / STATE_DIR / "backups" / kata_dir.parent.name / kata_dir.name
    stamp = now.strftime("%Y%m%d-%H%M%S")
    candidate, n = base / stamp, 1
    while candidate.exists():  # two resets in the same second keep both backups
        n += 1
        candidate = base / f"{stamp}-{n}"
    return candidate
