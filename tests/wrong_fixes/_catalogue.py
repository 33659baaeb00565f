"""The catalogue of fixes a learner might try, one TOML file per kata.

``tests/wrong_fixes/dayNN/NN_slug.toml`` lists, for the kata ``katas/dayNN/NN_slug``, the
*wrong* fixes (plausible edits that must still fail the kata's own tests) and the *right*
ones (legitimate alternatives to the reference solution that must pass). Each fix is a list
of text edits applied to the kata as shipped (or, with ``base = "solution"``, to the reference
solution): ``old`` must occur exactly once in the file (or at least once with ``all = true``)
and is replaced by ``new``. An edit that no longer applies after the kata changed is an error
that names the file, the fix and the text, never a silent no-op. The format is described in
docs/authoring.md, "Wrong fixes".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib  # type: ignore[no-redef]

from kata import load_meta
from kata.course.meta import KataMeta
from kata.course.shipped import shipped_file

HERE = Path(__file__).resolve().parent
KINDS = ("wrong", "right")
BASES = ("shipped", "solution")
MIN_WRONG = 2
_FIX_KEYS = {"name", "why", "base", "file", "fails_with", "edit"}
_EDIT_KEYS = {"old", "new", "all"}


class CatalogueError(ValueError):
    """A fix file does not follow the format, or one of its edits no longer applies."""


@dataclass(frozen=True)
class Edit:
    old: str
    new: str
    every: bool = False  # replace every occurrence instead of exactly one


@dataclass(frozen=True)
class Fix:
    kata: str  # "day12/01_dropout_in_validation"
    kind: str  # "wrong" or "right"
    name: str
    why: str
    base: str  # "shipped" or "solution"
    file: str  # the kata file the edits apply to
    edits: tuple[Edit, ...]
    fails_with: str  # for a wrong fix: the exception a failing test must raise
    source: Path  # the TOML file it comes from

    @property
    def slug(self) -> str:
        """A folder-safe name: ``wrong-dropout-set-to-0-0``."""
        return f"{self.kind}-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    def base_path(self, meta: KataMeta) -> Path:
        if self.base == "solution":
            return meta.solution_dir / self.file
        return shipped_file(meta, self.file)

    def apply(self, meta: KataMeta) -> str:
        """The text of the kata file with this fix applied."""
        path = self.base_path(meta)
        text = path.read_text()
        for number, edit in enumerate(self.edits, start=1):
            found = text.count(edit.old)
            if found == 0 or (found > 1 and not edit.every):
                how = "does not occur" if found == 0 else f"occurs {found} times"
                raise CatalogueError(
                    f"{self.source}: {self.kind} fix {self.name!r}, edit {number}: its 'old' "
                    f"text {how} in {path} (after the edits before it); it must occur exactly "
                    f"once, or set all = true to replace every occurrence. The text:\n{edit.old}"
                )
            text = text.replace(edit.old, edit.new)
        return text


def fix_files() -> list[Path]:
    return sorted(HERE.glob("day*/*.toml"))


def kata_dir_of(path: Path, root: Path) -> Path:
    """``tests/wrong_fixes/day12/01_x.toml`` -> ``katas/day12/01_x``."""
    return root / "katas" / path.parent.name / path.stem


def load(path: Path, root: Path) -> tuple[KataMeta, list[Fix]]:
    """The kata a fix file is about and its fixes, validated."""
    kata_dir = kata_dir_of(path, root)
    if not kata_dir.is_dir():
        raise CatalogueError(f"{path}: there is no kata {kata_dir} for these fixes.")
    meta = load_meta(kata_dir)
    with path.open("rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - set(KINDS)
    if unknown:
        raise CatalogueError(
            f"{path}: unknown tables {sorted(unknown)}; use [[wrong]] or [[right]]."
        )
    fixes = [_fix(path, meta, kind, entry) for kind in KINDS for entry in data.get(kind, [])]
    names = [(f.kind, f.name) for f in fixes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CatalogueError(f"{path}: fixes named twice: {duplicates}.")
    return meta, fixes


def _fix(path: Path, meta: KataMeta, kind: str, entry: dict[str, Any]) -> Fix:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CatalogueError(f"{path}: a [[{kind}]] entry has no 'name'.")
    where = f"{path}: {kind} fix {name!r}"
    unknown = set(entry) - _FIX_KEYS
    if unknown:
        raise CatalogueError(
            f"{where}: unknown keys {sorted(unknown)} (known: {sorted(_FIX_KEYS)})."
        )
    why = entry.get("why", "")
    if not isinstance(why, str) or not why.strip():
        raise CatalogueError(
            f"{where}: say in 'why' what a learner means by it and why it is {kind}."
        )
    base = entry.get("base", "shipped")
    if base not in BASES:
        raise CatalogueError(f"{where}: 'base' is {base!r}; use one of {list(BASES)}.")
    file = entry.get("file", meta.files[0])
    if file not in meta.files:
        raise CatalogueError(
            f"{where}: 'file' {file!r} is not one of the kata's files {list(meta.files)}."
        )
    raw_edits = entry.get("edit", [])
    if not isinstance(raw_edits, list) or not raw_edits:
        raise CatalogueError(f"{where}: it has no [[{kind}.edit]] table.")
    edits = []
    for number, raw in enumerate(raw_edits, start=1):
        if not isinstance(raw, dict) or set(raw) - _EDIT_KEYS or not {"old", "new"} <= set(raw):
            raise CatalogueError(
                f"{where}, edit {number}: an edit holds 'old' and 'new' (and optionally 'all')."
            )
        if raw["old"] == raw["new"] or not raw["old"]:
            raise CatalogueError(f"{where}, edit {number}: 'old' is empty or equal to 'new'.")
        edits.append(Edit(raw["old"], raw["new"], bool(raw.get("all", False))))
    fails_with = entry.get("fails_with", "AssertionError")
    if kind == "right" and "fails_with" in entry:
        raise CatalogueError(f"{where}: a right fix must pass; 'fails_with' is for wrong fixes.")
    return Fix(meta.id, kind, name, why, base, file, tuple(edits), fails_with, path)
