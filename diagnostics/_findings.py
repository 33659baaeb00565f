"""The data of a diagnosis: plain frozen dataclasses, rendered elsewhere."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ._catalogue import CATALOGUE, Severity


@dataclass(frozen=True)
class Location:
    """A place in the user's code."""

    file: str
    line: int
    function: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Finding:
    """One fault, reported once with the location of its first occurrence and a count."""

    code: str
    message: str
    fix: str
    location: Location | None = None
    evidence: tuple[tuple[str, str], ...] = ()
    series: tuple[tuple[str, tuple[float, ...]], ...] = ()
    count: int = 1
    # Across processes (torchrun ranks, spawned workers): the rank (or worker index) where the
    # fault was first seen, and each process that saw it with its count, e.g. (("rank 1", 3),).
    rank: int | None = None
    ranks: tuple[tuple[str, int], ...] = ()

    @property
    def severity(self) -> Severity:
        return CATALOGUE[self.code].severity

    @property
    def title(self) -> str:
        return CATALOGUE[self.code].summary

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "location": str(self.location) if self.location else None,
            "file": self.location.file if self.location else None,
            "line": self.location.line if self.location else None,
            "evidence": dict(self.evidence),
            "series": {name: list(values) for name, values in self.series},
            "fix": self.fix,
            "count": self.count,
            "rank": self.rank,
            "ranks": [label for label, _ in self.ranks],
            "rank_counts": dict(self.ranks),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """The finding that :meth:`to_dict` wrote (a process's findings file)."""
        location = None
        if data.get("file") is not None and data.get("line") is not None:
            location = Location(str(data["file"]), int(data["line"]))
        return cls(
            code=str(data["code"]),
            message=str(data["message"]),
            fix=str(data["fix"]),
            location=location,
            evidence=as_pairs(data.get("evidence") or {}),
            series=tuple(
                (str(name), tuple(float(v) for v in values))
                for name, values in (data.get("series") or {}).items()
            ),
            count=int(data.get("count", 1)),
            rank=data.get("rank"),
            ranks=tuple((str(k), int(v)) for k, v in (data.get("rank_counts") or {}).items()),
        )


def as_pairs(mapping: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> tuple:
    items = mapping.items() if isinstance(mapping, Mapping) else (mapping or ())
    return tuple((str(k), str(v)) for k, v in items)


@dataclass
class Report:
    """What a ``watch()`` saw. ``findings`` fills in while the watch runs."""

    allow: frozenset[str] = frozenset()
    findings: list[Finding] = field(default_factory=list)
    internal_warnings: list[str] = field(default_factory=list)
    # The processes this report covers, once merged from several (e.g. "rank 0", "rank 1").
    processes: tuple[str, ...] = ()
    # What checks leave for the merge of processes (e.g. parameter checksums per step).
    process_data: dict[str, Any] = field(default_factory=dict, repr=False)
    _index: dict[tuple[str, Any], int] = field(default_factory=dict, repr=False)
    # Called after a new finding is added (a process's findings file is rewritten).
    _on_new: Callable[[], None] | None = field(default=None, repr=False)

    def codes(self) -> set[str]:
        """The set of finding codes reported."""
        return {f.code for f in self.findings}

    @property
    def failed(self) -> bool:
        """True when there is an error or warning finding (what a kata must be free of)."""
        return any(f.severity.fails for f in self.findings)

    def fails(self, *, strict: bool = False) -> bool:
        """Should this report fail a run? On an error finding; with ``strict``, on a warning too.

        A warning is advice (a pattern that is sometimes deliberate): the command line and
        ``pytest --diagnose`` fail on it only with ``--strict`` / ``--diagnose-strict``.
        """
        if strict:
            return self.failed
        return any(f.severity is Severity.ERROR for f in self.findings)

    def by_code(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]

    def add(self, finding: Finding, key: Any) -> None:
        """Add ``finding`` (a watch does, as its checks report); a repeat of the same
        (code, key) only raises the count of the finding already there."""
        if finding.code in self.allow:
            return
        slot = self._index.get((finding.code, key))
        if slot is None:
            self._index[(finding.code, key)] = len(self.findings)
            self.findings.append(finding)
            if self._on_new is not None:
                self._on_new()
        else:
            old = self.findings[slot]
            self.findings[slot] = replace(old, count=old.count + finding.count)

    _add = add  # the name it had before it was public

    def refresh(self, code: str, key: Any, **changes: Any) -> None:
        """Refresh the evidence of an already reported finding (e.g. a longer series)."""
        slot = self._index.get((code, key))
        if slot is not None:
            self.findings[slot] = replace(self.findings[slot], **changes)

    def on_new_finding(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` after each new finding is added (None: stop calling it)."""
        self._on_new = callback

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "summary": {
                sev.value: sum(f.severity is sev for f in self.findings) for sev in Severity
            },
            "internal_warnings": list(self.internal_warnings),
            "processes": list(self.processes),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def __str__(self) -> str:
        """Plain text, one block per finding. For the rich rendering (panels, sparklines,
        a width), ``diagnostics.render(report)`` or ``diagnostics.report_text(report)``."""
        lines: list[str] = []
        for f in self.findings:
            where = f" at {f.location}" if f.location is not None else ""
            times = f" (x{f.count})" if f.count > 1 else ""
            lines += [f"{f.code} [{f.severity.value}]{where}{times}", f"  {f.message}"]
            lines.append(f"  Fix: {f.fix}")
        lines += [f"internal warning: {w}" for w in self.internal_warnings]
        if not self.findings:
            lines.append("diagnostics: no faults found.")
        return "\n".join(lines)
