"""The katas as shipped, kept by the project, and the learner's backups.

``kata reset`` must restore a kata exactly as the course ships it, whatever the learner did
with git. So the project keeps its own copy of each kata's learner files, next to the
solution: ``solutions/dayNN/NN_slug/shipped/train.py``. The solutions folder is the course
author's, never edited by the learner, and it is where the other version of the same files
already lives. ``kata ship`` records the copies (``kata new`` does it for a new kata) and
``kata validate`` fails when a kata's files and their shipped copy differ, so that the copy
cannot silently go stale.

Before a reset the learner's current files are copied to
``.kata/backups/dayNN/NN_slug/<time>/``: nothing is ever lost.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ._atomic import write_atomic
from ._course import STATE_DIR, CommandError
from ._meta import KataMeta

SHIPPED_DIR = "shipped"


def shipped_dir(meta: KataMeta) -> Path:
    return meta.solution_dir / SHIPPED_DIR


def shipped_file(meta: KataMeta, name: str) -> Path:
    return shipped_dir(meta) / name


def differences(meta: KataMeta) -> list[str]:
    """Problems between a kata's files and their shipped copy, one sentence each."""
    problems = []
    for name in meta.files:
        copy = shipped_file(meta, name)
        if not copy.is_file():
            problems.append(f"{copy}: missing (the shipped copy of {meta.dir / name})")
        elif copy.read_bytes() != (meta.dir / name).read_bytes():
            problems.append(f"{meta.dir / name} differs from its shipped copy {copy}")
    return problems


def ship(meta: KataMeta) -> list[Path]:
    """Record the kata's learner files as shipped; returns the copies written."""
    written = []
    for name in meta.files:
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
    copies = {name: shipped_file(meta, name) for name in meta.files}
    missing = [str(c) for c in copies.values() if not c.is_file()]
    if missing:
        raise CommandError(
            f"Cannot reset {meta.id}: its shipped copy is missing ({', '.join(missing)}). "
            f"The course author records it with 'kata ship {meta.id}'."
        )
    changed = [
        name
        for name, copy in copies.items()
        if not (meta.dir / name).is_file() or (meta.dir / name).read_bytes() != copy.read_bytes()
    ]
    unchanged = [name for name in meta.files if name not in changed]
    if not changed:
        return Reset([], unchanged, None)
    backup = _backup_dir(root, meta, now or datetime.now())
    try:
        backup.mkdir(parents=True)
        for name in changed:  # every copy is made before the first file is touched
            current = meta.dir / name
            if current.is_file():
                shutil.copy2(current, backup / name)
    except OSError as exc:
        raise CommandError(
            f"Cannot reset {meta.id}: your files could not be backed up to {backup} "
            f"({exc.strerror or exc}), so nothing was changed. Make {root / STATE_DIR} "
            "writable (chmod u+w), then run the reset again."
        ) from None
    for name in changed:
        write_atomic(meta.dir / name, copies[name].read_bytes())
    return Reset(changed, unchanged, backup)


def _backup_dir(root: Path, meta: KataMeta, now: datetime) -> Path:
    base = root / STATE_DIR / "backups" / meta.day_name / meta.name
    stamp = now.strftime("%Y%m%d-%H%M%S")
    candidate, n = base / stamp, 1
    while candidate.exists():  # two resets in the same second keep both backups
        n += 1
        candidate = base / f"{stamp}-{n}"
    return candidate
