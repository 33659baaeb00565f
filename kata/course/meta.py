"""A kata's metadata: the one schema of ``kata.toml``, loaded and validated here only.

A kata lives in ``katas/dayNN/NN_slug/`` next to its ``kata.toml``, its ``test_kata.py`` and
the learner's files; the reference solution lives in ``solutions/dayNN/NN_slug/``. Every
error names the file and the field, says what is wrong and what to write instead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_TIMEOUT",
    "HINT_COUNT",
    "LEVELS",
    "META_FILE",
    "TEST_FILE",
    "KataMeta",
    "KataMetaError",
    "KataNotFoundError",
    "course_root_of",
    "discover",
    "find",
    "kata_dir_of",
    "kata_dirs",
    "load",
]

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib  # type: ignore[no-redef]

SCHEMA_VERSION = 1
HINT_COUNT = 3
DEFAULT_TIMEOUT = 60.0  # seconds a kata's tests may take, together, before the run is stopped
_MAX_TIMEOUT = 3600.0
META_FILE = "kata.toml"
TEST_FILE = "test_kata.py"

_DAY_DIR = re.compile(r"day(\d+)")
_KATA_DIR = re.compile(r"(\d+)_([a-z0-9_]+)")
_FIELDS = (
    "schema", "title", "concept", "codes", "files", "accelerator", "hints", "interview", "timeout",
    "solution_may_change", "level", "kind",
)  # fmt: skip
# The outline's practice levels, in the order a day ramps through them: basic (define it and
# write a minimal version), intermediate (run it and read what it does), advanced (break it and
# interpret what goes wrong, or two faults at once).
LEVELS = ("basic", "intermediate", "advanced")
# fix: the shipped files hold a fault to find and fix; build: the learner writes a missing piece
# from scratch (the shipped version raises NotImplementedError) and the tests compare it with torch.
KINDS = ("fix", "build")
_INTERVIEW_FIELDS = ("question", "answer")


class KataMetaError(ValueError):
    """A kata's ``kata.toml`` (or its folder) does not follow the schema."""

    def __init__(self, path: Path | str, field: str, message: str) -> None:
        self.path = Path(path)
        self.field = field
        self.message = message
        super().__init__(f"{self.path}: field {field!r}: {message}")


class KataNotFoundError(LookupError):
    """No kata, or more than one, matches a name."""


@dataclass(frozen=True)
class KataMeta:
    """The validated content of one ``kata.toml`` and where the kata lives."""

    schema: int
    id: str  # "day11/01_zero_grad"
    day: int  # 11
    number: int  # 1
    slug: str  # "zero_grad"
    title: str
    concept: str
    codes: tuple[str, ...]
    files: tuple[str, ...]
    accelerator: bool
    hints: tuple[str, ...]
    interview_question: str
    interview_answer: str
    dir: Path  # the kata's folder
    timeout: float = DEFAULT_TIMEOUT  # seconds its tests may run, together
    # Constants (by variable or keyword name) the solution may change beyond the fault;
    # "*" for any. kata validate flags every other change of a numeric constant.
    solution_may_change: tuple[str, ...] = ()
    # One of LEVELS; None where kata.toml does not say (the course contract requires it).
    level: str | None = None
    kind: str = "fix"  # one of KINDS

    @property
    def level_rank(self) -> int:
        """Where the kata sits in its day's ramp: 0 basic, 1 intermediate (or unset), 2 advanced."""
        return LEVELS.index(self.level) if self.level in LEVELS else 1

    @property
    def name(self) -> str:
        """The folder name, e.g. ``01_zero_grad``."""
        return self.dir.name

    @property
    def day_name(self) -> str:
        """The day's folder name, e.g. ``day11``."""
        return self.dir.parent.name

    @property
    def meta_path(self) -> Path:
        return self.dir / META_FILE

    @property
    def course_root(self) -> Path:
        """The folder holding ``katas/`` and ``solutions/``."""
        return course_root_of(self.dir)

    @property
    def solution_dir(self) -> Path:
        return self.course_root / "solutions" / self.day_name / self.name


def course_root_of(kata_dir: Path) -> Path:
    """The course root of a kata folder: the parent of its ``katas/`` folder."""
    day_dir = kata_dir.parent
    return day_dir.parent.parent if day_dir.parent.name == "katas" else day_dir.parent


def kata_dir_of(path: Path) -> Path | None:
    """The kata folder a test file belongs to, or None if it is not a kata's test.

    Folders starting with '_' (the template, drafts) are not katas, even when run by name.
    """
    folder = path.parent
    if folder.name.startswith("_") or not (folder / META_FILE).is_file():
        return None
    return folder if path.name == TEST_FILE or "katas" in folder.parts else None


# -- loading -----------------------------------------------------------------------------------


def load(path: Path | str) -> KataMeta:
    """Load and validate a kata from its folder or its ``kata.toml``."""
    path = Path(path)
    meta_path = path if path.name == META_FILE else path / META_FILE
    kata_dir = meta_path.parent
    if not meta_path.is_file():
        raise KataMetaError(meta_path, "file", "there is no kata.toml here.")
    try:
        data = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KataMetaError(meta_path, "file", f"this is not valid TOML: {exc}.") from None
    return _validate(meta_path, kata_dir, data)


def _validate(meta_path: Path, kata_dir: Path, data: dict[str, Any]) -> KataMeta:
    _check_schema(meta_path, data)
    for key in data:
        if key not in _FIELDS:
            raise KataMetaError(meta_path, key, f"unknown field.{_did_you_mean(key, _FIELDS)}")
    day, number, slug = _parse_location(meta_path, kata_dir)
    interview = _table(meta_path, data, "interview")
    for key in interview:
        if key not in _INTERVIEW_FIELDS:
            hint = _did_you_mean(key, _INTERVIEW_FIELDS)
            raise KataMetaError(meta_path, f"interview.{key}", f"unknown field.{hint}")
    return KataMeta(
        schema=SCHEMA_VERSION,
        id=f"{kata_dir.parent.name}/{kata_dir.name}",
        day=day,
        number=number,
        slug=slug,
        title=_text(meta_path, data, "title"),
        concept=_text(meta_path, data, "concept"),
        codes=_codes(meta_path, data),
        files=_files(meta_path, kata_dir, data),
        accelerator=_flag(meta_path, data, "accelerator", default=False),
        hints=_hints(meta_path, data),
        interview_question=_text(meta_path, interview, "question", prefix="interview."),
        interview_answer=_text(meta_path, interview, "answer", prefix="interview."),
        dir=kata_dir,
        timeout=_timeout(meta_path, data),
        solution_may_change=_may_change(meta_path, data),
        level=_choice(meta_path, data, "level", LEVELS, default=None),
        kind=_kind(meta_path, data),
    )


def _check_schema(meta_path: Path, data: dict[str, Any]) -> None:
    schema = data.get("schema")
    if schema is None:
        raise KataMetaError(
            meta_path, "schema", f"missing. Start the file with 'schema = {SCHEMA_VERSION}'."
        )
    if type(schema) is not int:
        raise KataMetaError(meta_path, "schema", f"expected an integer, got {schema!r}.")
    if schema > SCHEMA_VERSION:
        raise KataMetaError(
            meta_path,
            "schema",
            f"version {schema} is newer than this torch-katas understands "
            f"(up to {SCHEMA_VERSION}). Update torch-katas.",
        )
    if schema != SCHEMA_VERSION:
        raise KataMetaError(
            meta_path, "schema", f"unknown version {schema}; the current one is {SCHEMA_VERSION}."
        )


def _parse_location(meta_path: Path, kata_dir: Path) -> tuple[int, int, str]:
    day_match = _DAY_DIR.fullmatch(kata_dir.parent.name)
    kata_match = _KATA_DIR.fullmatch(kata_dir.name)
    if not day_match or not kata_match:
        raise KataMetaError(
            meta_path,
            "location",
            f"a kata lives in a folder named like 'day11/01_zero_grad' (dayNN/NN_slug, "
            f"lower case), not {kata_dir.parent.name}/{kata_dir.name!r}.",
        )
    return int(day_match.group(1)), int(kata_match.group(1)), kata_match.group(2)


def _text(meta_path: Path, data: dict[str, Any], key: str, *, prefix: str = "") -> str:
    value = data.get(key)
    if value is None:
        raise KataMetaError(meta_path, prefix + key, "missing.")
    if not isinstance(value, str) or not value.strip():
        raise KataMetaError(meta_path, prefix + key, f"expected non-empty text, got {value!r}.")
    return value.strip()


def _flag(meta_path: Path, data: dict[str, Any], key: str, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise KataMetaError(meta_path, key, f"expected true or false, got {value!r}.")
    return value


def _timeout(meta_path: Path, data: dict[str, Any]) -> float:
    value = data.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KataMetaError(meta_path, "timeout", f"expected a number of seconds, got {value!r}.")
    if not 0 < value <= _MAX_TIMEOUT:
        raise KataMetaError(
            meta_path,
            "timeout",
            f"expected more than 0 and at most {_MAX_TIMEOUT:.0f} seconds, got {value!r}.",
        )
    return float(value)


def _choice(
    meta_path: Path,
    data: dict[str, Any],
    key: str,
    choices: tuple[str, ...],
    *,
    default: str | None,
) -> str | None:
    value = data.get(key, default)
    if value is None or value in choices:
        return value
    listed = ", ".join(repr(c) for c in choices)
    hint = _did_you_mean(value, choices) if isinstance(value, str) else ""
    raise KataMetaError(meta_path, key, f"expected one of {listed}, got {value!r}.{hint}")


def _kind(meta_path: Path, data: dict[str, Any]) -> str:
    kind = _choice(meta_path, data, "kind", KINDS, default="fix")
    assert kind is not None
    if kind == "build" and data.get("codes"):
        raise KataMetaError(
            meta_path,
            "codes",
            f'a build kata (kind = "build") has nothing broken for diagnostics to find: its '
            f"shipped files are not written yet. Write 'codes = []', not {data['codes']!r}.",
        )
    return kind


def _table(meta_path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        raise KataMetaError(
            meta_path, key, f"missing. Add a [{key}] table with 'question' and 'answer'."
        )
    if not isinstance(value, dict):
        raise KataMetaError(meta_path, key, f"expected a [{key}] table, got {value!r}.")
    return value


def _string_list(meta_path: Path, data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        raise KataMetaError(meta_path, key, "missing.")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KataMetaError(meta_path, key, f"expected a list of strings, got {value!r}.")
    return value


def _codes(meta_path: Path, data: dict[str, Any]) -> tuple[str, ...]:
    # Imported here: diagnostics imports torch, which listing katas does not need.
    from diagnostics import CATALOGUE

    codes = _string_list(meta_path, data, "codes")
    for code in codes:
        if code not in CATALOGUE:
            raise KataMetaError(
                meta_path,
                "codes",
                f"unknown finding code {code!r}.{_did_you_mean(code, CATALOGUE)} "
                f"The codes are listed in diagnostics/_catalogue.py.",
            )
    if len(set(codes)) != len(codes):
        raise KataMetaError(meta_path, "codes", f"a code is listed twice in {codes!r}.")
    return tuple(codes)


def _files(meta_path: Path, kata_dir: Path, data: dict[str, Any]) -> tuple[str, ...]:
    files = _string_list(meta_path, data, "files")
    if not files:
        raise KataMetaError(meta_path, "files", "list at least one learner file, e.g. 'train.py'.")
    for name in files:
        if Path(name).name != name or name in (META_FILE, TEST_FILE):
            raise KataMetaError(
                meta_path,
                "files",
                f"{name!r} is not a learner file: name files that sit in the kata folder, "
                f"other than {META_FILE} and {TEST_FILE}.",
            )
        if not (kata_dir / name).is_file():
            raise KataMetaError(meta_path, "files", f"{name!r} does not exist in {kata_dir}.")
    return tuple(files)


def _hints(meta_path: Path, data: dict[str, Any]) -> tuple[str, ...]:
    hints = _string_list(meta_path, data, "hints")
    if len(hints) != HINT_COUNT:
        raise KataMetaError(
            meta_path,
            "hints",
            f"expected exactly {HINT_COUNT} hints (gentle, precise, nearly the fix), "
            f"found {len(hints)}.",
        )
    for number, hint in enumerate(hints, start=1):
        if not hint.strip():
            raise KataMetaError(meta_path, "hints", f"hint {number} is empty.")
    return tuple(h.strip() for h in hints)


def _may_change(meta_path: Path, data: dict[str, Any]) -> tuple[str, ...]:
    if "solution_may_change" not in data:
        return ()
    names = _string_list(meta_path, data, "solution_may_change")
    for name in names:
        if name != "*" and not name.isidentifier():
            raise KataMetaError(
                meta_path,
                "solution_may_change",
                f"{name!r} is not a name: list the constants the solution may change by the "
                "variable or keyword that holds them (e.g. 'lr', 'EPOCHS'), or '*' for any.",
            )
    return tuple(names)


def _did_you_mean(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


# -- finding katas ------------------------------------------------------------------------------


def katas_dir(root: Path | str) -> Path:
    """The ``katas/`` folder of a course root (or ``root`` itself if it is one)."""
    root = Path(root)
    return root if root.name == "katas" or not (root / "katas").is_dir() else root / "katas"


def kata_dirs(root: Path | str) -> list[Path]:
    """Every kata folder under a course root, in course order, without loading them.

    Folders whose name starts with ``_`` or ``.`` (the template, drafts) are not katas.
    """
    found = [meta.parent for meta in _walk(katas_dir(root))]
    return sorted(found, key=_order)


def _walk(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for day_dir in folder.iterdir():
        if not day_dir.is_dir() or day_dir.name.startswith(("_", ".")):
            continue
        for kata_dir in day_dir.iterdir():
            if kata_dir.name.startswith(("_", ".")):
                continue
            if (kata_dir / META_FILE).is_file():
                yield kata_dir / META_FILE


def _order(kata_dir: Path) -> tuple[int, str, int, str]:
    day = _DAY_DIR.fullmatch(kata_dir.parent.name)
    number = _KATA_DIR.fullmatch(kata_dir.name)
    return (
        int(day.group(1)) if day else 10**6,
        kata_dir.parent.name,
        int(number.group(1)) if number else 10**6,
        kata_dir.name,
    )


def discover(root: Path | str) -> list[KataMeta]:
    """Load every kata under a course root, sorted by day and number.

    Raises :class:`KataMetaError` for the first kata whose metadata is invalid.
    """
    return [load(d) for d in kata_dirs(root)]


def find(root: Path | str, name: Path | str) -> KataMeta:
    """The kata a learner means by ``name``.

    ``name`` is a path (the kata folder or a file in it), an id (``day11/01_zero_grad``), a
    day and number (``day11/01``), a folder name (``01_zero_grad``) or a slug (``zero_grad``).
    """
    as_path = Path(name).expanduser()
    for candidate in (as_path, as_path.parent):
        if (candidate / META_FILE).is_file() and as_path.exists():
            return load(candidate.resolve())  # ".", "./train.py", "../03_x": name the real folder
    dirs = kata_dirs(root)
    wanted = str(name).strip().strip("/").replace("\\", "/")
    if wanted.startswith("katas/"):
        wanted = wanted[len("katas/") :]
    matches = [d for d in dirs if wanted in _names_of(d)]
    if len(matches) == 1:
        return load(matches[0])
    ids = [f"{d.parent.name}/{d.name}" for d in dirs]
    if matches:
        listed = ", ".join(f"{d.parent.name}/{d.name}" for d in matches)
        raise KataNotFoundError(f"{name!r} names several katas: {listed}. Give the day too.")
    close = difflib.get_close_matches(wanted, [n for d in dirs for n in _names_of(d)], n=3)
    close_ids = sorted(
        {i for i, d in zip(ids, dirs, strict=True) if set(_names_of(d)) & set(close)}
    )
    suggestion = f" Did you mean {' or '.join(close_ids)}?" if close_ids else ""
    where = katas_dir(root)
    raise KataNotFoundError(f"No kata named {str(name)!r} in {where}.{suggestion}")


def _names_of(kata_dir: Path) -> tuple[str, ...]:
    """Every way a learner may name a kata folder."""
    day, folder = kata_dir.parent.name, kata_dir.name
    number, _, slug = folder.partition("_")
    return (f"{day}/{folder}", f"{day}/{number}", f"{day}/{slug}", folder, slug)
