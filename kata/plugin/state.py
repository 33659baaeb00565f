"""What the kata plugin keeps: the ``kata`` fixture's object, the run's options and results,
and each kata test's kata, meta and diagnosis (in ``config.stash`` and ``item.stash``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kata import report as rpt
from kata.course import progress as _progress
from kata.course.loader import KataLoadError, load_file
from kata.course.meta import KataMeta, KataMetaError
from kata.course.meta import load as load_meta

__all__ = ["RUN", "TEST", "Kata", "KataDiagnosisFailed", "KataTimeout", "Run", "Test"]


class KataDiagnosisFailed(Exception):
    """The test passed, but the diagnosis found an error or warning in the learner's code."""


class KataTimeout(BaseException):
    """A kata's tests ran past its time budget (a BaseException: ``except Exception`` in the
    learner's code must not swallow it)."""

    def __init__(self, file: str, budget: float) -> None:
        super().__init__(f"{file} did not finish in {budget:g} s.")
        self.budget = budget


class Kata:
    """The ``kata`` fixture: the kata under test, its seed, and its learner files."""

    def __init__(self, meta: KataMeta, *, seed: int, solution: bool) -> None:
        self.meta = meta
        self.seed = seed
        self.solution = solution
        self._modules: dict[str, ModuleType] = {}

    @property
    def dir(self) -> Path:
        """The folder the learner's files are loaded from (the solution's with --kata-solution)."""
        return self.meta.solution_dir if self.solution else self.meta.dir

    def path(self, name: str | None = None) -> Path:
        """The path of a file the kata declares (the first one by default)."""
        name = name or self.meta.files[0]
        if name not in self.meta.files:
            raise KataLoadError(
                f"{name!r} is not one of this kata's files {list(self.meta.files)} "
                f"(see 'files' in {self.meta.meta_path}).",
                path=self.meta.meta_path,
            )
        path = self.dir / name
        if not path.is_file():
            what = "solution" if self.solution else "kata"
            raise KataLoadError(f"The {what} file {path} is missing.", path=path)
        return path

    def load(self, name: str | None = None) -> ModuleType:
        """Import a learner file (or its solution) as a fresh module; once per test."""
        path = self.path(name)
        if path.name not in self._modules:
            variant = "solution" if self.solution else "learner"
            label = f"{self.meta.day_name}_{self.meta.name}_{variant}_{path.stem}"
            self._modules[path.name] = load_file(path, label=label)
        return self._modules[path.name]

    def __repr__(self) -> str:
        return f"<Kata {self.meta.id} seed={self.seed}{' solution' if self.solution else ''}>"


# -- per-run and per-test state -------------------------------------------------------------


@dataclass
class Run:
    seed: int
    solution: bool
    report_path: Path | None
    use_progress: bool
    traceback: bool
    gate: bool = True
    authoring: bool = False  # the course's own files are being written: unshipped edits are work
    show_fix: bool = False  # --kata-show-fix: the diagnosis with its Fix: line at once
    blind: bool = False  # --kata-blind: the diagnosis withheld, revealed once solved
    width: int = 80  # the terminal's: the diagnosis panel fits it
    shown: dict[Path, str] = field(default_factory=dict)  # kata folder -> test whose block has
    # its diagnosis (per process: under xdist a kata's tests all run on one worker)
    timeout: float | None = None  # --kata-timeout: every kata's budget, instead of its own
    spent: dict[Path, float] = field(default_factory=dict)  # seconds of tests, per kata folder
    timed_out: dict[Path, float] = field(default_factory=dict)  # kata folder -> its budget
    results: rpt.Results = field(default_factory=rpt.Results)
    metas: dict[Path, KataMeta | KataMetaError] = field(default_factory=dict)
    progress: dict[Path, _progress.Progress] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def meta(self, kata_dir: Path) -> KataMeta | KataMetaError:
        if kata_dir not in self.metas:
            try:
                self.metas[kata_dir] = load_meta(kata_dir)
            except KataMetaError as exc:
                self.metas[kata_dir] = exc
        return self.metas[kata_dir]

    def budget(self, meta: KataMeta) -> float:
        return meta.timeout if self.timeout is None else self.timeout

    def hints_used(self, meta: KataMeta) -> int:
        """Read-only here: workers run in parallel, only the controller writes progress."""
        if not self.use_progress:
            return 0
        root = meta.course_root
        if root not in self.progress:
            self.progress[root] = _progress.load(root, repair=False, warn=False)
        return self.progress[root].hints_used(meta.id)


@dataclass
class Test:
    kata_dir: Path
    meta: KataMeta | None
    error: KataMetaError | None
    report: Any = None  # the diagnostics.Report of the call phase


RUN = pytest.StashKey[Run]()
TEST = pytest.StashKey[Test]()
