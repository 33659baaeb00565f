"""The katas' pytest plugin: the ``kata`` fixture, the diagnosis of every kata test, the
readable failure block, the per-day summary, the JSON report and the learner's progress.

It acts only on the tests of a kata folder (a folder holding ``kata.toml``, under a ``katas/``
tree or next to a ``test_kata.py``); every other test runs untouched. Registered through the
``pytest11`` entry point named ``kata`` (``-p no:kata`` switches it off); ``-p kata.plugin.hooks``
loads it from a checkout.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import os
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kata import report as rpt
from kata.course import progress as _progress
from kata.course import shipped as _shipped
from kata.course.loader import KataLoadError, load_file
from kata.course.meta import (
    META_FILE,
    TEST_FILE,
    KataMeta,
    KataMetaError,
    course_root_of,
    kata_dir_of,
)
from kata.course.meta import load as load_meta

__all__ = ["Kata"]


def pytest_plugin_registered(plugin: object, manager: pytest.PytestPluginManager) -> None:
    """Named ``kata`` (the entry point) and ``kata.plugin.hooks`` (``-p``): registered under
    one, the other is blocked, so that pytest never registers the module twice; ``-p no:kata``
    wins over either."""
    if plugin is sys.modules[__name__]:
        if manager.is_blocked("kata"):
            manager.set_blocked(__name__)  # unregisters it
            return
        for name in ("kata", __name__):
            if manager.get_plugin(name) is None:
                manager.set_blocked(name)


_RULE = "-" * 72
_DIAGNOSIS_FAILED = (
    "The test's own checks passed, but the diagnosis found a fault in your code: a kata is "
    "solved when the training is right, not only when the numbers look right."
)
_DIAGNOSIS_WITHHELD = (
    "The test's own checks passed, but the training still has a fault: a kata is solved when "
    "the training is right, not only when the numbers look right. The diagnosis is withheld "
    "(--kata-blind): read your training loop again."
)
_SHOWN_ABOVE = "diagnosis and hint above"
_FIX_WITHHELD = "the fix is the last rung of: kata hint {kata}"
# Captured output of a kata's first failing test: its last lines only (--kata-traceback: all).
_OUTPUT_LINES = 3
_PANEL_WIDTH = 100  # the widest a diagnosis panel gets, whatever the terminal
_NO_ACCELERATOR = (
    "This kata runs on an accelerator, and the simulated accelerator (kata/accelerator/) "
    "is not installed: the kata is skipped."
)


_TIMEOUT_ADVICE = (
    "Look for a loop that never ends, or one far longer than the lesson needs (an epoch count "
    "or a data set grown by mistake). The kata's budget is 'timeout' in its {meta}; "
    "'kata check --timeout SECONDS' changes it for one run."
)
_EXIT_CALLED = (
    "Your code called sys.exit({code!r}). A kata's code must return to the test, not end the "
    "process: remove the call (or keep it under 'if __name__ == \"__main__\":')."
)
# The environment variable naming the file for a stack dump on SIGUSR1 (set by kata's runner).
_DUMP_ENV = "KATA_STACK_DUMP"


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
class _Run:
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
class _Test:
    kata_dir: Path
    meta: KataMeta | None
    error: KataMetaError | None
    report: Any = None  # the diagnostics.Report of the call phase


_RUN = pytest.StashKey[_Run]()
_TEST = pytest.StashKey[_Test]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# -- options and configuration ------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata", "torch-katas")
    group.addoption(
        "--kata-seed", type=int, default=0, metavar="N",
        help="seed of the katas' tests: kata.seed, torch, random and numpy (default 0)",
    )  # fmt: skip
    group.addoption(
        "--kata-solution", action="store_true",
        help="run the katas' tests against solutions/ instead of the learner's files",
    )  # fmt: skip
    group.addoption(
        "--kata-report", metavar="PATH", default=None,
        help="write the katas' results as JSON to PATH (format: docs/kata-report.md)",
    )  # fmt: skip
    group.addoption(
        "--kata-report-quietly", action="store_true",
        help="do not name the --kata-report file in the summary (kata's own runs)",
    )  # fmt: skip
    group.addoption(
        "--kata-no-progress", action="store_true",
        help="neither read nor record the learner's progress (.kata/progress.json)",
    )  # fmt: skip
    group.addoption(
        "--kata-traceback", action="store_true",
        help="add pytest's full traceback under each failing kata test",
    )  # fmt: skip
    group.addoption(
        "--kata-timeout", type=float, default=None, metavar="SECONDS",
        help="time budget of each kata's tests together (default: the kata's 'timeout' in "
        "kata.toml, 60 s unless it says otherwise); 0 for none",
    )  # fmt: skip
    group.addoption(
        "--kata-show-fix", action="store_true",
        help="show the diagnosis' Fix: line at once (by default it is the last rung of "
        "'kata hint')",
    )  # fmt: skip
    group.addoption(
        "--kata-blind", action="store_true",
        help="withhold the diagnosis: a failure shows the test's symptom only; a kata solved "
        "blind reveals what it would have shown, and progress records the blind solve",
    )  # fmt: skip
    group.addoption(
        "--kata-no-gate", action="store_true",
        help="judge the katas by their tests' own asserts alone: a diagnosis is still shown "
        "but no longer fails a passing test (for authors proving a kata's tests)",
    )  # fmt: skip
    group.addoption(
        "--kata-authoring", action="store_true",
        help="the course's own files (test_kata.py, kata.toml) are being edited: an edit not yet "
        "recorded with 'kata ship' is work in progress, not a learner's tampering",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    report = config.getoption("kata_report")
    config.stash[_RUN] = _Run(
        seed=config.getoption("kata_seed"),
        solution=config.getoption("kata_solution"),
        report_path=Path(report).resolve() if report else None,
        use_progress=not config.getoption("kata_no_progress"),
        traceback=config.getoption("kata_traceback"),
        gate=not config.getoption("kata_no_gate"),
        authoring=config.getoption("kata_authoring"),
        timeout=config.getoption("kata_timeout"),
        show_fix=config.getoption("kata_show_fix"),
        blind=config.getoption("kata_blind"),
        width=_terminal_width(config),
    )
    _register_stack_dump()
    dist = getattr(config.option, "dist", "no")
    if not _is_worker(config) and dist == "load" and _about_katas(config):
        config.option.dist = "loadfile"  # a kata's tests on one worker: its blocks together
    if not _is_worker(config):  # under xdist the controller sums up the workers' reports
        config.pluginmanager.register(_Results(config), "kata-results")


def _register_stack_dump() -> None:
    """Write every thread's stack to $KATA_STACK_DUMP on SIGUSR1: the runner asks for it before
    it kills a run that went past its budget, to show the learner's line it was running."""
    path = os.environ.get(_DUMP_ENV)
    if not path or not hasattr(signal, "SIGUSR1"):
        return
    try:
        dump = open(path, "w", encoding="utf-8")  # noqa: SIM115 (open until the process ends)
    except OSError:
        return
    faulthandler.register(signal.SIGUSR1, file=dump, all_threads=True)


def _terminal_width(config: pytest.Config) -> int:
    """The columns of the terminal (COLUMNS, else the tty's; 80 when it is neither); under
    xdist the workers get the controller's."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "kata_width" in workerinput:
        return int(workerinput["kata_width"])
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist (controller): hand each worker the terminal's width."""
    node.workerinput["kata_width"] = node.config.stash[_RUN].width


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _about_katas(config):
        return None
    import torch

    run = config.stash[_RUN]
    files = "solutions" if run.solution else "learner's files"
    device = f"cuda ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "cpu"
    return f"katas: seed {run.seed}, {files}, torch {torch.__version__}, {device}"


def _about_katas(config: pytest.Config) -> bool:
    """Does this run concern katas? (The header is printed before collection.)"""
    run = config.stash[_RUN]
    if run.solution or run.seed or run.report_path:
        return True
    for arg in config.args:
        path = Path(arg.split("::")[0])
        if "katas" in path.parts or (path / META_FILE).is_file():
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Folders starting with '_' in a katas tree (the template, drafts) hold no katas."""
    name = collection_path.name
    if name.startswith("_") and "katas" in collection_path.parts and collection_path.is_dir():
        return True
    return None


# -- the fixture ------------------------------------------------------------------------------


@pytest.fixture
def kata(request: pytest.FixtureRequest) -> Kata:
    """The kata whose test is running: ``kata.load("train.py")``, ``kata.seed``, ``kata.meta``."""
    test = request.node.stash.get(_TEST, None)
    if test is None:
        raise pytest.UsageError(
            f"The 'kata' fixture works only in a kata's {TEST_FILE}, next to its {META_FILE}; "
            f"{request.node.nodeid} is not in a kata folder."
        )
    if test.error is not None:
        raise test.error
    assert test.meta is not None
    run = request.config.stash[_RUN]
    return Kata(test.meta, seed=run.seed, solution=run.solution)


# -- running a kata test ------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    kata_dir = kata_dir_of(item.path)
    if kata_dir is None:
        return (yield)
    run = item.config.stash[_RUN]
    meta = run.meta(kata_dir)
    test = item.stash[_TEST] = _Test(
        kata_dir,
        meta if isinstance(meta, KataMeta) else None,
        meta if isinstance(meta, KataMetaError) else None,
    )
    _seed_everything(run.seed)
    result = yield
    if kata_dir in run.timed_out:
        pytest.skip(
            f"not run: the kata used up its {run.timed_out[kata_dir]:g} s time budget "
            "in an earlier test"
        )
    if test.error is not None:
        raise test.error
    if test.meta is not None and test.meta.accelerator and _accelerator_module() is None:
        pytest.skip(_NO_ACCELERATOR)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    test = item.stash.get(_TEST, None)
    if test is None or test.meta is None:
        return (yield)
    import diagnostics

    with contextlib.ExitStack() as stack:
        stack.enter_context(_torch_state_kept())
        if test.meta.accelerator:
            accelerator = _accelerator_module()
            assert accelerator is not None  # checked at setup
            stack.enter_context(accelerator.accelerator())
        test.report = stack.enter_context(diagnostics.watch())
        run = item.config.stash[_RUN]
        budget = run.budget(test.meta)
        left = budget - run.spent.get(test.kata_dir, 0.0) if budget > 0 else 0.0
        stack.enter_context(_alarm(max(left, 0.001) if budget > 0 else 0.0, test, budget))
        started = time.perf_counter()
        try:
            result = yield
        except KataTimeout:
            run.timed_out[test.kata_dir] = budget
            raise
        finally:
            run.spent[test.kata_dir] = run.spent.get(test.kata_dir, 0.0) + (
                time.perf_counter() - started
            )
    run = item.config.stash[_RUN]
    if test.report.failed and run.gate:
        raise KataDiagnosisFailed(_DIAGNOSIS_WITHHELD if run.blind else _DIAGNOSIS_FAILED)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    test = item.stash.get(_TEST, None)
    if test is None:
        return report
    meta = test.meta
    props: list[tuple[str, Any]] = [
        (rpt.ID, meta.id if meta else f"{test.kata_dir.parent.name}/{test.kata_dir.name}"),
        (rpt.DAY, test.kata_dir.parent.name),
        (rpt.TITLE, meta.title if meta else ""),
        (rpt.ROOT, str(course_root_of(test.kata_dir))),
    ]
    if call.when == "call" and test.report is not None:
        props.append((rpt.FINDINGS, [_finding_dict(f) for f in test.report.findings]))
    if test.error is not None:
        props.append((rpt.PROBLEM, str(test.error)))
    # A new list: pytest shares item.user_properties with every report of the item.
    report.user_properties = [*report.user_properties, *props]
    if call.excinfo is not None and isinstance(call.excinfo.value, KataTimeout):
        report.user_properties.append((rpt.TIMED_OUT, call.excinfo.value.budget))
    if report.failed and call.excinfo is not None:
        run = item.config.stash[_RUN]
        report.user_properties.append((rpt.MESSAGE, _what_happened(call.excinfo, test, False)))
        first = test.kata_dir not in run.shown
        headline, block = _failure_block(item, test, call.excinfo, run, call.when)
        if run.traceback:
            block += f"\n\nFull traceback:\n{report.longreprtext}"
        else:
            report.sections = _trimmed_sections(report.sections, first=first)
        report.longrepr = _longrepr(item, headline, block)
    return report


@contextlib.contextmanager
def _alarm(seconds: float, test: _Test, budget: float) -> Iterator[None]:
    """Raise KataTimeout in the test after ``seconds`` (0: never). Main thread, Unix only."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if seconds <= 0 or not usable:
        yield
        return
    assert test.meta is not None
    file = test.meta.files[0]

    def ring(signum: int, frame: Any) -> None:
        raise KataTimeout(file, budget)

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _finding_dict(finding: Any) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": finding.severity.value,
        "location": str(finding.location) if finding.location else None,
        "count": finding.count,
        "fix": finding.fix,
    }


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    with contextlib.suppress(ImportError):
        import numpy

        numpy.random.seed(seed)
    import torch

    torch.manual_seed(seed)


@contextlib.contextmanager
def _torch_state_kept() -> Iterator[None]:
    """Undo global torch switches a kata's code may flip, so the next kata starts clean."""
    import torch

    grad, dtype = torch.is_grad_enabled(), torch.get_default_dtype()
    deterministic = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    # Katas train tiny models: one thread is faster, and under pytest -n auto several workers
    # with a thread pool each would oversubscribe the cores (measured: 3x slower on 2 cores).
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_grad_enabled(grad)
        torch.set_default_dtype(dtype)
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)


def _accelerator_module() -> Any:
    """kata.accelerator, or None when it is not installed (an error inside it still shows)."""
    name = "kata.accelerator"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


# -- the failure block --------------------------------------------------------------------------


def _failure_block(
    item: pytest.Item, test: _Test, excinfo: Any, run: _Run, when: str
) -> tuple[str, str]:
    """A one-line headline for pytest's short summary, and the block for the failure.

    The diagnosis, the hint and the command to run again come once per kata, in the block of
    its first failing test; the blocks of its other tests show their symptom only."""
    meta = test.meta
    kata_id = f"{test.kata_dir.parent.name}/{test.kata_dir.name}"
    happened = _what_happened(excinfo, test, advice=True)
    headline = f"Kata {kata_id}: {happened.splitlines()[0]}"
    title = f"Kata {kata_id}: {meta.title}" if meta else f"Kata {kata_id}"
    failed = f"{item.name} {'failed' if when == 'call' else 'could not run'}."
    shown = run.shown.get(test.kata_dir)
    if shown is not None:  # the test's name is in pytest's header of the block
        above = "its first failure above" if run.blind else _SHOWN_ABOVE
        return headline, f"Kata {kata_id} ({above}): {happened}"
    run.shown[test.kata_dir] = item.name
    parts = [title, happened] if when == "call" else [title, failed, happened]
    if test.report is not None and test.report.findings and not run.blind:
        report = _learners_locations(test.report, excinfo, test)
        label = (
            "Diagnosis:"
            if run.show_fix
            else f"Diagnosis ({_FIX_WITHHELD.format(kata=_short_id(test.kata_dir))}):"
        )
        parts += [label, _report_text(report, run).rstrip()]
    if meta is not None and not run.blind:
        used = run.hints_used(meta)
        number = min(used, len(meta.hints) - 1) + 1
        parts += [f"Hint {number} of {len(meta.hints)}: {meta.hints[number - 1]}"]
    where = _display(test.kata_dir, item.config.rootpath)
    parts += [f"Run it again: pytest {where}{' --kata-blind' if run.blind else ''}"]
    return headline, "\n".join(parts)


def _short_id(kata_dir: Path) -> str:
    """``day11/01``: what ``kata`` accepts for ``day11/01_gradients_pile_up``."""
    number = kata_dir.name.split("_", 1)[0]
    return f"{kata_dir.parent.name}/{number}" if number.isdigit() else kata_dir.name


def _trimmed_sections(sections: list[tuple[str, str]], *, first: bool) -> list[tuple[str, str]]:
    """The captured output of a kata's first failing test, its last lines only; none for the
    kata's other tests (the same training, printed again)."""
    kept = []
    for title, text in sections:
        if not title.startswith("Captured"):
            kept.append((title, text))
        elif first:
            lines = text.rstrip("\n").splitlines()
            if len(lines) > _OUTPUT_LINES + 1:  # a note in place of one line saves nothing
                left = len(lines) - _OUTPUT_LINES
                note = f"({left} earlier lines left out; --kata-traceback shows them all)"
                lines = [note, *lines[-_OUTPUT_LINES:]]
            kept.append((title, "\n".join(lines) + "\n"))
    return kept


def _learners_locations(report: Any, excinfo: Any, test: _Test) -> Any:
    """The report with every finding placed in the learner's code, named from the kata's
    folder (``train.py:33``): a location in a test file or in the diagnostics engine becomes
    the learner's line of the failure, or none."""
    import dataclasses

    from diagnostics import Location

    frame = _learner_frames(excinfo.tb, test)
    fallback = Location(frame[0], frame[1]) if frame else None
    findings = []
    for finding in report.findings:
        place = finding.location
        if place is not None and not _learners(place.file):
            place = fallback
        if place is not None:
            place = dataclasses.replace(place, file=_in_kata_dir(place.file, test))
        findings.append(dataclasses.replace(finding, location=place))
    return dataclasses.replace(report, findings=findings, _index={})


def _learners(file: str) -> bool:
    path = Path(file)
    return not (path.name.startswith("test_") or path.name == "conftest.py"
                or "diagnostics" in path.parts)  # fmt: skip


def _in_kata_dir(file: str, test: _Test) -> str:
    """A learner's file as named from its kata's folder; other files as they were."""
    path = Path(file)
    if not path.is_absolute():
        path = Path.cwd() / path
    return path.name if _in_kata(path, test) else file


def _longrepr(item: pytest.Item, headline: str, block: str) -> Any:
    """The block as pytest's own failure representation, so that the short summary (and
    ``--tb=line``) show the headline, not the whole block; it travels through xdist as is."""
    try:
        from _pytest._code.code import (
            ReprExceptionInfo,
            ReprFileLocation,
            ReprTracebackNative,
        )
    except ImportError:  # pytest internals moved: a plain string still shows the block
        return block
    path, line, _ = item.location
    one_line = item.config.getoption("tbstyle", "auto") == "line"  # the headline says it all
    return ReprExceptionInfo(
        reprtraceback=ReprTracebackNative([] if one_line else [block + "\n"]),
        reprcrash=ReprFileLocation(path, (line or 0) + 1, headline),
    )


def _what_happened(excinfo: Any, test: _Test, advice: bool = True) -> str:
    exc = excinfo.value
    if isinstance(exc, KataTimeout):
        where = _learner_frame(excinfo.tb, test)
        text = f"{exc}{where.replace(chr(10) + '  at', chr(10) + '  It was running')}"
        if advice:
            text += "\n" + _TIMEOUT_ADVICE.format(meta=META_FILE)
        return text
    if isinstance(exc, SystemExit):
        return _EXIT_CALLED.format(code=exc.code) + _learner_frame(excinfo.tb, test)
    if isinstance(exc, (KataLoadError, KataDiagnosisFailed)):
        return str(exc)
    if isinstance(exc, KataMetaError):
        return f"The kata's {META_FILE} is invalid, so the kata cannot run:\n  {exc}"
    if isinstance(exc, AssertionError):
        return "The test says: " + _plain_assertion(str(exc))
    where = _learner_frame(excinfo.tb, test)
    return f"Your code stopped with {type(exc).__name__}: {exc}{where}"


def _plain_assertion(message: str) -> str:
    """The author's words, without pytest's rewritten 'assert a < b' explanation."""
    lines = message.splitlines()
    words = []
    for line in lines:
        if line.startswith("assert "):
            break
        words.append(line)
    return "\n".join(words).strip() or (lines[0] if lines else "an assertion failed.")


def _learner_frame(tb: Any, test: _Test) -> str:
    """' at train.py:23' and its source line: the last frame of a kata file in the traceback."""
    frame = _learner_frames(tb, test)
    if frame is None:
        return ""
    return f"\n  at {Path(frame[0]).name}:{frame[1]}: {frame[2]}"


def _learner_frames(tb: Any, test: _Test) -> tuple[str, int, str] | None:
    """(file, line, source) of the last frame of a kata file (not its test) in ``tb``."""
    frames = [
        f
        for f in traceback.extract_tb(tb)
        if Path(f.filename).name != TEST_FILE and _in_kata(Path(f.filename), test)
    ]
    if not frames:
        return None
    frame = frames[-1]
    return frame.filename, frame.lineno or 0, (frame.line or "").strip()


def _in_kata(path: Path, test: _Test) -> bool:
    folders = [test.kata_dir]
    if test.meta is not None:
        folders.append(test.meta.solution_dir)
    return any(path.parent.resolve() == folder.resolve() for folder in folders)


def _report_text(report: Any, run: _Run) -> str:
    """The diagnosis as panels the terminal's width (100 columns at most), the fix only with
    --kata-show-fix."""
    try:
        from diagnostics._render import report_text
    except ImportError:
        return "\n".join(
            f"{f.severity.value} {f.code}"
            + (f" at {f.location}" if f.location else "")
            + f": {f.message}"
            + (f"\n  fix: {f.fix}" if run.show_fix else "")
            for f in report.findings
        )
    width = max(20, min(run.width, _PANEL_WIDTH))
    text = report_text(report, width, show_fix=run.show_fix, summary=False, compact=True)
    return str(text)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# -- results: summary, JSON report, progress ----------------------------------------------------
_MISSING_TESTS = (
    "its test_kata.py is missing, so the kata cannot count as solved. "
    "'kata reset --tests {kata}' restores it."
)
_NO_TESTS = (
    "no test of its test_kata.py ran, so the kata cannot count as solved. "
    "'kata reset --tests {kata}' restores the course's tests."
)
_MODIFIED = (
    "your {files} from the course's, so the kata cannot count as solved (a kata is solved by "
    "the course's own tests). 'kata reset --tests {kata}' restores the course's files; yours "
    "are backed up."
)


def _last_line(text: str) -> str:
    """The error line of a collection failure (``E   SyntaxError: ...``), without its prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return errors[-1] if errors else (lines[-1] if lines else "")


def _katas_asked_for(config: pytest.Config) -> list[Path]:
    """The kata folders under the paths a run was given (not those named down to a test)."""
    found: list[Path] = []
    for arg in config.args:
        if "::" in arg:
            continue
        path = Path(arg)
        path = path if path.is_absolute() else Path(config.invocation_params.dir) / path
        if not path.is_dir() or path.name.startswith("_"):
            continue
        if (path / META_FILE).is_file():
            candidates = [path / META_FILE]
        elif (path / "katas").is_dir():
            path = path / "katas"
            candidates = sorted(path.rglob(META_FILE))
        elif "katas" in path.resolve().parts:
            candidates = sorted(path.rglob(META_FILE))
        else:
            continue
        for meta_file in candidates:
            kata_dir = meta_file.parent
            parts = kata_dir.relative_to(path).parts if kata_dir != path else ()
            if any(p.startswith(("_", ".")) for p in parts) or kata_dir in found:
                continue
            if kata_dir_of(kata_dir / TEST_FILE) is not None:
                found.append(kata_dir)
    return found


class _Results:
    """Hooks of one run that gather the results; they run on the controller under xdist."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.run = config.stash[_RUN]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.run.results.add(
            nodeid=report.nodeid,
            when=report.when,
            outcome=report.outcome,
            properties=report.user_properties,
            seconds=report.duration,
        )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A kata whose test file (its own, or one the learner added) cannot even be collected
        counts as failing, with the error."""
        if not report.failed:
            return
        path = self.config.rootpath / report.nodeid.split("::")[0]
        kata_dir = kata_dir_of(path)
        if kata_dir is None:
            return
        error = _last_line(report.longreprtext)
        self._add_problem(
            kata_dir,
            f"{path.name}::collection",
            f"{path.name} could not be collected: {error}" if error else
            f"{path.name} could not be collected.",
        )  # fmt: skip

    def _add_problem(self, kata_dir: Path, nodeid: str, problem: str) -> None:
        meta = self.run.meta(kata_dir)
        self.run.results.add(
            nodeid=nodeid,
            when="collect",
            outcome="failed",
            properties=[
                (rpt.ID, f"{kata_dir.parent.name}/{kata_dir.name}"),
                (rpt.DAY, kata_dir.parent.name),
                (rpt.TITLE, meta.title if isinstance(meta, KataMeta) else ""),
                (rpt.ROOT, str(course_root_of(kata_dir))),
                (rpt.PROBLEM, problem),
            ],
        )

    def _check_course_files(self) -> bool:
        """Katas asked for whose tests did not run, and tests the learner edited: not solved.
        True when it found one."""
        run = self.run
        before = {r.id: r.status for r in run.results.katas.values()}
        selected = not (self.config.option.keyword or self.config.option.markexpr)
        for kata_dir in _katas_asked_for(self.config):
            kata_id = f"{kata_dir.parent.name}/{kata_dir.name}"
            if kata_id in run.results.katas:
                continue
            if not (kata_dir / TEST_FILE).is_file():
                problem = _MISSING_TESTS.format(kata=kata_id)
                self._add_problem(kata_dir, f"{TEST_FILE}::missing", problem)
                run.problems.append(f"{kata_id}: {problem}")
            elif selected:
                problem = _NO_TESTS.format(kata=kata_id)
                self._add_problem(kata_dir, f"{TEST_FILE}::empty", problem)
                run.problems.append(f"{kata_id}: {problem}")
        # With --kata-solution or --kata-authoring: the author's files; a test edited before
        # 'kata ship' is work.
        authors = run.solution or run.authoring
        for result in [] if authors else run.results.katas.values():
            kata_dir = Path(result.root) / "katas" / result.id
            if not kata_dir.is_dir():
                kata_dir = Path(result.root) / result.id
            changed = _shipped.modified(kata_dir) if kata_dir.is_dir() else []
            if changed and (kata_dir / TEST_FILE).is_file():  # a missing one is said already
                result.modified = changed
                files = " and ".join(changed) + (" differ" if len(changed) > 1 else " differs")
                result.problem = result.problem or _MODIFIED.format(files=files, kata=result.id)
                run.problems.append(f"{result.id}: {result.problem}")
        return any(before.get(r.id, "solved") != r.status for r in run.results.katas.values())

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        run = self.run
        self._group_failures()
        if self._check_course_files() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if not run.results:
            return
        progress = self._record_progress() if run.use_progress else {}
        if run.report_path is not None:
            hints = {
                result.id: progress[Path(result.root)].hints_used(result.id)
                for result in run.results.katas.values()
                if Path(result.root) in progress
            }
            data = run.results.to_dict(seed=run.seed, solution=run.solution, hints=hints)
            rpt.write_json(run.report_path, data)

    def _group_failures(self) -> None:
        """A kata's failure blocks together, the katas in the course's order: under xdist the
        workers' reports arrive interleaved (the terminal summary prints them after this).
        Other tests keep their order, grouped by file."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        failed = getattr(reporter, "stats", {}).get("failed")
        if not failed:
            return

        def group(report: Any) -> str:
            kata_id = dict(getattr(report, "user_properties", ())).get(rpt.ID)
            return str(kata_id or report.nodeid.split("::")[0])

        failed.sort(key=group)

    def _record_progress(self) -> dict[Path, _progress.Progress]:
        """Load (repairing a corrupt file), record this run's outcomes, save."""
        by_root: dict[Path, _progress.Progress] = {}
        for result in self.run.results.katas.values():
            root = Path(result.root)
            if root not in by_root:
                by_root[root] = _progress.load(root, warn=False)
                problem = by_root[root].problem
                if problem:
                    self.run.problems.append(problem)
            if not self.run.solution and result.status != "skipped":
                # progress knows solved and failing: a kata out of time is failing
                status = "solved" if result.solved else "failing"
                by_root[root].mark(result.id, status, blind=self.run.blind)
        if not self.run.solution:
            for progress in by_root.values():
                try:
                    progress.save()
                except _progress.ProgressSaveError as exc:  # its message is the one line to show
                    self.run.problems.append(str(exc))
                except OSError as exc:
                    self.run.problems.append(f"The progress file could not be saved: {exc}")
        return by_root

    def _revealed(self) -> list[str]:
        """What the diagnosis would have said, for each kata solved in a blind run."""
        from diagnostics import CATALOGUE

        lines = []
        for result in sorted(self.run.results.katas.values(), key=lambda r: r.id):
            if not result.solved:
                continue
            kata_dir = Path(result.root) / "katas" / result.id
            meta = self.run.meta(kata_dir)
            if not isinstance(meta, KataMeta):
                continue
            lines.append(f"{result.id} solved blind. The diagnosis withheld was:")
            for code in meta.codes:
                info = CATALOGUE.get(code)
                what = f"{info.severity.value} {code}: {info.summary}" if info else code
                lines.append(f"  {what}")
            lines.append(f"  The lesson: {meta.concept.rstrip('.')}.")
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        run = self.run
        if not run.results:
            return
        variant = " (solutions)" if run.solution else ""
        terminalreporter.write_sep("=", f"katas, seed {run.seed}{variant}")
        for line in run.results.summary_lines():
            terminalreporter.write_line(line)
        if run.blind:
            for line in self._revealed():
                terminalreporter.write_line(line)
        for problem in run.problems:
            terminalreporter.write_line(f"warning: {problem}", yellow=True)
        if run.report_path is not None and not self.config.getoption("kata_report_quietly"):
            terminalreporter.write_line(f"kata report written to {run.report_path}")
