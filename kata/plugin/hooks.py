"""The katas' pytest plugin: its options, the ``kata`` fixture and the hooks that run every
kata test under the diagnosis. The failure block is built in ``failure``, the summary, JSON
report and progress in ``results``; what they share lives in ``state``.

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
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kata import report as rpt
from kata.course.meta import (
    META_FILE,
    TEST_FILE,
    KataMeta,
    KataMetaError,
    course_root_of,
    kata_dir_of,
)

from .failure import failure_block, longrepr, trimmed_sections, what_happened
from .results import Results
from .state import RUN, TEST, Kata, KataDiagnosisFailed, KataTimeout, Run, Test

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


_DIAGNOSIS_FAILED = (
    "The test's own checks passed, but the diagnosis found a fault in your code: a kata is "
    "solved when the training is right, not only when the numbers look right."
)
_DIAGNOSIS_WITHHELD = (
    "The test's own checks passed, but the training still has a fault: a kata is solved when "
    "the training is right, not only when the numbers look right. The diagnosis is withheld "
    "(--kata-blind): read your training loop again."
)
_NO_ACCELERATOR = (
    "This kata runs on an accelerator, and the simulated accelerator (kata/accelerator/) "
    "is not installed: the kata is skipped."
)


# The environment variable naming the file for a stack dump on SIGUSR1 (set by kata's runner).
_DUMP_ENV = "KATA_STACK_DUMP"


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
    config.stash[RUN] = Run(
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
        config.pluginmanager.register(Results(config), "kata-results")


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
    node.workerinput["kata_width"] = node.config.stash[RUN].width


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _about_katas(config):
        return None
    import torch

    run = config.stash[RUN]
    files = "solutions" if run.solution else "learner's files"
    device = f"cuda ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "cpu"
    return f"katas: seed {run.seed}, {files}, torch {torch.__version__}, {device}"


def _about_katas(config: pytest.Config) -> bool:
    """Does this run concern katas? (The header is printed before collection.)"""
    run = config.stash[RUN]
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
    test = request.node.stash.get(TEST, None)
    if test is None:
        raise pytest.UsageError(
            f"The 'kata' fixture works only in a kata's {TEST_FILE}, next to its {META_FILE}; "
            f"{request.node.nodeid} is not in a kata folder."
        )
    if test.error is not None:
        raise test.error
    assert test.meta is not None
    run = request.config.stash[RUN]
    return Kata(test.meta, seed=run.seed, solution=run.solution)


# -- running a kata test ------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    kata_dir = kata_dir_of(item.path)
    if kata_dir is None:
        return (yield)
    run = item.config.stash[RUN]
    meta = run.meta(kata_dir)
    test = item.stash[TEST] = Test(
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
    test = item.stash.get(TEST, None)
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
        run = item.config.stash[RUN]
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
    run = item.config.stash[RUN]
    if test.report.failed and run.gate:
        raise KataDiagnosisFailed(_DIAGNOSIS_WITHHELD if run.blind else _DIAGNOSIS_FAILED)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    test = item.stash.get(TEST, None)
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
        run = item.config.stash[RUN]
        report.user_properties.append((rpt.MESSAGE, what_happened(call.excinfo, test, False)))
        first = test.kata_dir not in run.shown
        headline, block = failure_block(item, test, call.excinfo, run, call.when)
        if run.traceback:
            block += f"\n\nFull traceback:\n{report.longreprtext}"
        else:
            report.sections = trimmed_sections(report.sections, first=first)
        report.longrepr = longrepr(item, headline, block)
    return report


@contextlib.contextmanager
def _alarm(seconds: float, test: Test, budget: float) -> Iterator[None]:
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
