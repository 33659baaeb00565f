"""Watching every process of a run: torchrun ranks and the workers a script starts.

``python -m diagnostics`` names a folder in the environment variable ``DIAGNOSTICS_PROCESS_DIR``
(a fresh temporary folder; under torchrun one shared by the ranks of the launch). Each watched
process writes its findings there as ``<label>.json``: again at every new finding, so that a
process that dies still leaves what it found, and once more when it ends. The parent (or rank 0)
merges the files into ONE report, each fault once with the processes that saw it.

Workers started through ``multiprocessing`` (``torch.multiprocessing.spawn``, ``Process`` with the
``spawn``, ``forkserver`` or ``fork`` start method) are watched by wrapping the process's target
in :class:`WatchedTarget` when ``start()`` is called: a picklable callable that runs the target
unchanged inside a watch of its own. A process whose class overrides ``run()`` has no target to
wrap: it runs unwatched, and the report says so. DataLoader workers and multiprocessing's own
helpers (managers) are never wrapped: they run no training loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import multiprocessing.process
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._findings import Finding, Report
from .files import write_atomically

ENV_DIR = "DIAGNOSTICS_PROCESS_DIR"
ENV_TIMEOUT = "DIAGNOSTICS_RANK_TIMEOUT"
_DEFAULT_TIMEOUT_S = 60.0
_STALE_S = 30.0
_NOT_WATCHED_MODULES = ("torch.utils.data", "multiprocessing.")


def torchrun_rank() -> tuple[int, int] | None:
    """(rank, world size) when this process is a rank that torchrun (torchelastic) started."""
    env = os.environ
    if "TORCHELASTIC_RUN_ID" not in env:
        return None
    try:
        return int(env["RANK"]), int(env["WORLD_SIZE"])
    except (KeyError, ValueError):
        return None


def _launch_folder(shared: str | None) -> Path:
    """The folder the ranks of one torchrun launch share.

    On one node, the local ranks are children of one torchrun agent: its process id, the run id
    and the restart count name the launch (a restarted group writes a fresh folder). In a folder
    the user shares between nodes (``DIAGNOSTICS_PROCESS_DIR``), the agents differ: the run id,
    the rendezvous address and the restart count name it.
    """
    env = os.environ
    parts = [
        env.get("TORCHELASTIC_RUN_ID", ""),
        env.get("TORCHELASTIC_RESTART_COUNT", "0"),
        env.get("MASTER_ADDR", ""),
        env.get("MASTER_PORT", ""),
    ]
    if not shared:
        parts.append(str(os.getppid()))
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    return Path(shared or tempfile.gettempdir()) / f"diagnostics-ranks-{digest}"


def _process_label() -> tuple[str, int | None]:
    """This process's label and rank: its rank once it joined a process group."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            rank = dist.get_rank()
            return f"rank {rank}", rank
    except Exception:  # a broken or torn-down group: label by what else we know
        pass
    return "", None


class FindingsFile:
    """One process's findings in the shared folder, rewritten whole (atomically) each time."""

    def __init__(self, folder: Path, label: str, rank: int | None) -> None:
        self.folder, self.label, self.rank = folder, label, rank
        self.pid = os.getpid()
        self.path = folder / f"{_safe(label)}-{self.pid}.json"
        self.failed = False

    def write(
        self, report: Report, *, done: bool, status: int | None = None, crash: str | None = None
    ) -> None:
        if os.getpid() != self.pid:  # a forked child holds a copy of its parent's report
            return
        label, rank = self.label, self.rank
        if label.startswith("worker"):
            joined, joined_rank = _process_label()
            noted = report.process_data.get("rank")
            if joined:
                label, rank = joined, joined_rank
            elif isinstance(noted, int):
                label, rank = f"rank {noted}", noted
        data = {
            "label": label,
            "rank": rank,
            "pid": self.pid,
            "done": done,
            "status": status,
            "crash": crash,
            "findings": [f.to_dict() for f in report.findings],
            "internal_warnings": list(report.internal_warnings),
            "process_data": report.process_data,
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # Rewritten at each new finding while the process runs: a crash of the process,
            # not of the machine, is what the file must survive.
            write_atomically(self.path, json.dumps(data), durable=False)
        except (OSError, TypeError, ValueError):  # never break the user's run over a report
            self.failed = True

    def follow(self, report: Report) -> None:
        """Rewrite the file at each new finding, so that a process that dies leaves them."""
        report.on_new_finding(lambda: self.write(report, done=False))


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label)


class WatchedTarget:
    """A process's target, run unchanged inside a watch whose findings go to the folder."""

    def __init__(
        self, target: Callable[..., Any], folder: str, index: int, allow: Sequence[str]
    ) -> None:
        self.target, self.folder, self.index, self.allow = target, folder, index, tuple(allow)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _drop_inherited_watches()
        from ._watch import watch

        w = watch(allow=self.allow)
        out = FindingsFile(Path(self.folder), f"worker {self.index}", self.index)
        out.follow(w.report)
        crash: str | None = None
        status = 0
        try:
            with w:
                return self.target(*args, **kwargs)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            raise
        except BaseException as exc:
            status, crash = 1, f"{type(exc).__name__}: {exc}"
            raise
        finally:
            out.write(w.report, done=True, status=status, crash=crash)


def _drop_inherited_watches() -> None:
    """A forked worker holds a copy of its parent's active watch: end that copy here (its
    report is the parent's, never printed from here), so that events go to the worker's own
    watch alone."""
    watches = sys.modules.get("diagnostics._watch")  # not imported: there is no watch to end
    if watches is not None:
        watches.abandon_inherited_watches()


def _watchable(process: multiprocessing.process.BaseProcess) -> str:
    """Why ``process`` cannot be watched ('' when it can)."""
    target = getattr(process, "_target", None)
    if isinstance(target, WatchedTarget):
        return "already watched"
    if type(process).run is not multiprocessing.process.BaseProcess.run:
        return f"{type(process).__name__} overrides run()"
    if target is None:
        return "no target"
    module = getattr(target, "__module__", "") or ""
    if module.startswith(_NOT_WATCHED_MODULES):
        return "a helper process"
    return ""


@dataclass
class Part:
    """What one process left: its label, rank, findings and how it ended."""

    label: str
    rank: int | None
    findings: list[Finding]
    done: bool = True
    status: int | None = 0
    crash: str | None = None
    internal_warnings: list[str] = field(default_factory=list)
    process_data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Part | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                label=str(data["label"]),
                rank=data.get("rank"),
                findings=[Finding.from_dict(f) for f in data.get("findings", [])],
                done=bool(data.get("done")),
                status=data.get("status"),
                crash=data.get("crash"),
                internal_warnings=list(data.get("internal_warnings", [])),
                process_data=dict(data.get("process_data") or {}),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


class ProcessLayer:
    """The CLI's side: names the folder, wraps started workers, merges what they leave."""

    def __init__(self, allow: Sequence[str]) -> None:
        self.allow = tuple(allow)
        self.ranked = torchrun_rank()
        self.skipped: list[str] = []
        given = os.environ.get(ENV_DIR)
        self.rank: int | None = None
        self.world = 1
        if self.ranked is not None:
            self.rank, self.world = self.ranked[0], self.ranked[1]
            self.label = f"rank {self.rank}"
            self.folder = _launch_folder(given)
            self.owned = self.rank == 0
        else:
            self.label = "main"
            self.folder = Path(tempfile.mkdtemp(prefix="diagnostics-processes-"))
            self.owned = True
        # Files older than this are left over from an earlier launch that was killed.
        self.since = time.time() - _STALE_S
        self.own_file = FindingsFile(self.folder, self.label, self.rank)
        self._started = itertools.count()
        # The other processes that crashed or exited with a failing status ("rank 1: exit 1").
        self.failed_elsewhere: list[str] = []

    @contextlib.contextmanager
    def watching(self, report: Report) -> Iterator[None]:
        """While the script runs: workers it starts are watched, and a rank's findings are
        written as they come."""
        saved = os.environ.get(ENV_DIR)
        os.environ[ENV_DIR] = str(self.folder)
        if self.ranked is not None:
            self.own_file.follow(report)
        base = multiprocessing.process.BaseProcess
        original = base.start
        layer, parent = self, os.getpid()

        def start(process: multiprocessing.process.BaseProcess) -> None:
            if os.getpid() == parent:
                why = _watchable(process)
                if not why:
                    process._target = WatchedTarget(  # type: ignore[attr-defined]
                        process._target,  # type: ignore[attr-defined]
                        str(layer.folder),
                        next(layer._started),
                        layer.allow,
                    )
                elif why.endswith("overrides run()"):
                    layer.skipped.append(f"{process.name}: {why}")
            return original(process)

        base.start = start  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            if base.start is start:
                base.start = original  # type: ignore[method-assign]
            report.on_new_finding(None)
            if saved is None:
                os.environ.pop(ENV_DIR, None)
            else:
                os.environ[ENV_DIR] = saved

    def finish(self, report: Report, *, status: int, crash: str | None) -> Report | None:
        """This process's part is written; the merged report where this process prints it
        (rank 0, or the parent), else None."""
        if self.ranked is not None:
            self.own_file.write(report, done=True, status=status, crash=crash)
            if self.rank != 0:
                return None
            parts = self._gather_ranks()
        else:
            parts = [
                Part(
                    self.label,
                    None,
                    list(report.findings),
                    status=status,
                    crash=crash,
                    process_data=report.process_data,
                )
            ]
            parts += self._read_parts(exclude=None)
        merged = merge(parts, allow=report.allow)
        for part in parts:
            if part.label == self.label:
                continue
            if not part.done and self.ranked is None:
                merged.internal_warnings.append(
                    f"{part.label} ended before its watch did (killed, or os._exit()): "
                    "its findings up to then are shown."
                )
            if part.crash:
                self.failed_elsewhere.append(f"{part.label} crashed: {part.crash}")
            elif part.status:
                self.failed_elsewhere.append(f"{part.label} exited with status {part.status}")
        merged.internal_warnings[:0] = report.internal_warnings
        for why in self.skipped:
            merged.internal_warnings.append(
                f"a process was not watched ({why}): give it a target function instead."
            )
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)
        return merged

    def alone(self, report: Report) -> Report:
        """This rank's own findings, labelled with its rank: what a rank other than 0 prints
        when its script crashed (torchrun then stops every rank, rank 0 included, before rank 0
        could print the merged report)."""
        from dataclasses import replace

        own = Report(allow=report.allow, processes=(self.label,))
        own.findings = [
            replace(f, rank=self.rank, ranks=((self.label, f.count),)) for f in report.findings
        ]
        own.internal_warnings = list(report.internal_warnings)
        return own

    def _read_parts(self, exclude: Path | None) -> list[Part]:
        parts = []
        for path in sorted(self.folder.glob("*.json")):
            if path == exclude:
                continue
            with contextlib.suppress(OSError):
                if self.ranked is not None and path.stat().st_mtime < self.since:
                    continue
            part = Part.read(path)
            if part is not None:
                parts.append(part)
        return parts

    def _gather_ranks(self) -> list[Part]:
        """Rank 0 waits (up to DIAGNOSTICS_RANK_TIMEOUT seconds) for every rank's last file."""
        try:
            timeout = float(os.environ.get(ENV_TIMEOUT, _DEFAULT_TIMEOUT_S))
        except ValueError:
            timeout = _DEFAULT_TIMEOUT_S
        deadline = time.monotonic() + timeout
        while True:
            parts = self._read_parts(exclude=None)
            done = {p.rank for p in parts if p.done and p.label.startswith("rank")}
            if all(r in done for r in range(self.world)) or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        seen = {p.rank for p in parts if p.label.startswith("rank")}
        missing = [str(r) for r in range(self.world) if r not in seen]
        unfinished = [p.label for p in parts if not p.done]
        notes = []
        if missing:
            notes.append(
                f"no findings file from rank(s) {', '.join(missing)} in {self.folder}: on several "
                f"nodes, set {ENV_DIR} to a folder every node shares."
            )
        if unfinished:
            notes.append(
                f"{', '.join(unfinished)} had not finished after {timeout:g} s: their findings so "
                f"far are shown (set {ENV_TIMEOUT} to wait longer)."
            )
        if parts:
            parts[0].internal_warnings.extend(notes)
        return parts


def merge(parts: Sequence[Part], *, allow: frozenset[str] = frozenset()) -> Report:
    """ONE report from the processes' parts: each fault once, with the processes that saw it."""
    from dataclasses import replace

    from ._checks.distributed import out_of_sync_finding

    parts = sorted(parts, key=_order)
    several = len(parts) > 1
    report = Report(allow=allow)
    if several:
        report.processes = tuple(p.label for p in parts)
    # A fault is the same across processes when its code and place are: the messages differ
    # by the values each process saw. The n-th such finding of a process matches the n-th of
    # another, so that distinct faults at one line stay apart.
    merged: dict[tuple[str, str, int], int] = {}
    for part in parts:
        for w in part.internal_warnings:
            report.internal_warnings.append(f"{part.label}: {w}" if several else w)
        nth: dict[tuple[str, str], int] = {}
        for f in part.findings:
            if f.code in allow:
                continue
            place = (f.code, str(f.location))
            nth[place] = nth.get(place, 0) + 1
            key = (*place, nth[place])
            at = merged.get(key)
            if at is None:
                merged[key] = len(report.findings)
                ranks = ((part.label, f.count),) if several else ()
                report.findings.append(replace(f, rank=part.rank, ranks=ranks))
            else:
                old = report.findings[at]
                report.findings[at] = replace(
                    old, count=old.count + f.count, ranks=(*old.ranks, (part.label, f.count))
                )
    sync = out_of_sync_finding([(p.label, p.rank, p.process_data) for p in parts])
    if sync is not None and sync.code not in allow:
        report.findings.append(sync)
    return report


def _order(part: Part) -> tuple[int, int, str]:
    if part.label == "main":
        return (0, 0, part.label)
    return (1, part.rank if part.rank is not None else 1 << 30, part.label)
