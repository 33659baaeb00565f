"""Run a kata's tests with pytest, each run in a fresh process, and read back the verdict.

Each run needs a clean interpreter: the learner's module must be imported afresh and no
state may leak from one run into the next. A cold ``python -m pytest`` pays for importing
torch every time (one to several seconds); here the parent imports torch, the diagnostics
and pytest once and each run happens in a ``fork()`` of it, which starts clean but warm.
Where ``fork`` does not exist (Windows) each run is a subprocess instead.

Warming means more than importing. The first training step of a process pays for lazy
initialisations (kernels, the autograd engine, the diagnostics' hooks, rich's rendering), so
the parent runs one tiny step under ``diagnostics.watch()`` and renders its report. Then it
freezes its objects out of the garbage collector's reach (``gc.freeze``): pytest collects
garbage at the end of every run, and walking torch's millions of objects took the better part
of a second each time.

Every run is a process group of its own, with a time budget. When it runs past the budget the
kata plugin's alarm normally ends the test with the learner's line; if the process does not
answer (stuck in C code), the runner asks it for a stack dump (``faulthandler`` on SIGUSR1),
kills the whole group (the learner's DataLoader workers too) and finds the learner's line in
the dump. Whatever a run leaves behind is killed with its group when it ends.

A child forked after OpenMP's thread pool started would hang in its first parallel region, so
a parent that computes (the warm-up, or the test suite calling this) is single-threaded from
its first operation on, and so are its children. The katas' models are tiny: one thread is
what they run fastest on anyway.
"""

from __future__ import annotations

import codecs
import contextlib
import copy
import gc
import importlib
import io
import json
import linecache
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kata.course.meta import TEST_FILE, KataMeta

__all__ = ["RunResult", "Runner", "pytest_args"]

# The environment variable naming the file a run writes its stack dump to on SIGUSR1 (read by
# the kata plugin, which registers faulthandler for it).
DUMP_ENV = "KATA_STACK_DUMP"
# A run that its own alarm did not stop gets this much longer before it is killed: time to
# start, collect, and let the plugin report the timeout itself; a cold subprocess (no fork)
# also imports torch.
GRACE_SECONDS = 5.0  # and a quarter of the budget
COLD_START_SECONDS = 15.0

_PLUGIN = "kata.plugin.hooks"
# What a warm parent imports ahead of the runs: everything a kata run would import anyway.
_WARM_MODULES = (
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "torch.optim",
    "torch.utils.data",
    "numpy",
    "pytest",
    "diagnostics",
    "diagnostics._render",
    "diagnostics._pytest_plugin",
    "kata.plugin.hooks",
    "kata.course.loader",
    "kata.accelerator",
    "kata_fixtures",
    "rich.console",
)
# pytest's exit codes, for the verdict line
NO_TESTS = 5


@dataclass(frozen=True)
class RunResult:
    """The outcome of one pytest run of one or more katas."""

    exit_code: int
    seconds: float
    katas: dict[str, dict[str, Any]]  # the plugin's JSON report, per kata id
    complete: bool = True  # with a report: the run ended normally and wrote it
    timed_out: float | None = None  # the budget, when the runner had to kill the run
    where: str | None = None  # then: the learner's line it was running, from its stack dump

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and self.complete and self.timed_out is None

    def status(self, meta: KataMeta) -> str | None:
        entry = self.katas.get(meta.id)
        return entry["status"] if entry else None

    def codes(self, meta: KataMeta) -> list[str]:
        entry = self.katas.get(meta.id)
        return list(entry["codes"]) if entry else []


def pytest_args(
    targets: Sequence[Path],
    *,
    root: Path | None = None,
    seed: int = 0,
    solution: bool = False,
    record_progress: bool = True,
    color: bool = False,
    timeout: float | None = None,
) -> list[str]:
    """The pytest command line of a kata run (without the report option)."""
    args = [str(t) for t in targets]
    args += [
        "-q",
        "--no-header",
        "-p",
        "no:cacheprovider",  # keep the katas' folders free of .pytest_cache
        "--import-mode=importlib",  # every kata's test file is named test_kata.py
        f"--kata-seed={seed}",
        f"--color={'yes' if color else 'no'}",
        # Warm runs import the plugin's package before pytest could rewrite its asserts.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
    ]
    if root is not None:  # node ids and "run it again" lines relative to the course
        args.append(f"--rootdir={root}")
    if solution:
        args.append("--kata-solution")
    if not record_progress:
        args.append("--kata-no-progress")
    if timeout is not None:
        args.append(f"--kata-timeout={timeout:g}")
    args[len(targets) : len(targets)] = ["-p", _PLUGIN]  # runs see no other plugin: ENV
    return args


# A kata run needs the kata plugin alone. Other installed plugins (xdist, hypothesis, anyio...)
# would be imported, and their asserts rewritten, in every fresh child: seconds per run.
ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


class Runner:
    """Runs pytest in fresh processes; ``warm()`` once to make each run start fast."""

    def __init__(self, *, echo: Callable[[str], None] | None = None) -> None:
        self.echo = echo or _write_stdout
        self.can_fork = hasattr(os, "fork")
        self._fork_probed = False
        # Torch imported before we got here may have started OpenMP's pool: see module doc.
        self._single_thread = "torch" in sys.modules

    def warm(self) -> None:
        """Import and exercise once what every run needs, in this (parent) process."""
        for name in _WARM_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
        import _pytest.config

        for name in _pytest.config.default_plugins:
            try:
                importlib.import_module(f"_pytest.{name}")
            except ImportError:
                continue
        self._single_thread = True
        _exercise()
        gc.collect()  # what the warm-up left is garbage; each fork freezes the rest

    def run(
        self,
        args: Sequence[str],
        *,
        report: bool = False,
        timeout: float | None = None,
        learner_dirs: Sequence[Path] = (),
        cwd: Path | None = None,
    ) -> RunResult:
        """Run ``pytest args`` in a fresh process, stream its output, return the verdict.

        With ``report`` the plugin's JSON report is read back (findings and status per kata).
        With ``timeout`` a run still going ``GRACE_SECONDS`` after it is killed with everything
        it started; the learner's line it was running is found in its stack dump, among the
        files of ``learner_dirs``. ``cwd``: the folder the run starts in (default: this one).
        """
        with tempfile.TemporaryDirectory(prefix="kata-run-") as tmp:
            path = Path(tmp) / "report.json"
            dump = Path(tmp) / "stack.txt"
            full = [*args, f"--kata-report={path}", "--kata-report-quietly"] if report else [*args]
            grace = GRACE_SECONDS + (timeout or 0.0) / 4
            grace += 0.0 if self.can_fork else COLD_START_SECONDS
            deadline = None if timeout is None else time.monotonic() + timeout + grace
            started = time.perf_counter()
            if self.can_fork and not self._fork_probed:
                self.can_fork = _autograd_survives_fork()
                self._fork_probed = True
            run = self._fork if self.can_fork else self._subprocess
            code, killed = run(full, dump, deadline, cwd)
            seconds = time.perf_counter() - started
            katas = _read_report(path) if report else {}
            complete = path.is_file() if report else True
            where = _learner_line(dump, learner_dirs) if killed else None
        return RunResult(code, seconds, katas, complete, timeout if killed else None, where)

    # -- fork: a warm child ---------------------------------------------------------------------
    def _fork(
        self, args: list[str], dump: Path, deadline: float | None, cwd: Path | None
    ) -> tuple[int, bool]:
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # the child's garbage collections skip everything the parent made
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _child(args, write_fd, dump, cwd, single_thread=self._single_thread)
        gc.unfreeze()
        os.close(write_fd)
        with contextlib.suppress(OSError):  # the child does it too: whoever comes first
            os.setpgid(pid, pid)
        return self._relay(read_fd, pid, deadline, lambda: _exited(pid), lambda: _reap(pid))

    def _relay(
        self,
        read_fd: int,
        pid: int,
        deadline: float | None,
        exited: Callable[[], bool],
        reap: Callable[[], int],
    ) -> tuple[int, bool]:
        try:
            killed = self._pump(read_fd, exited, deadline)
            if killed:
                _dump_and_kill(pid)
        except BaseException:
            _stop(pid)
            os.close(read_fd)
            reap()
            raise
        os.close(read_fd)
        _kill_group(pid)  # whatever the run started and left running; before the reaping
        return reap(), killed

    # -- subprocess: the portable way --------------------------------------------------------------
    def _subprocess(
        self, args: list[str], dump: Path, deadline: float | None, cwd: Path | None
    ) -> tuple[int, bool]:
        env = dict(os.environ, **ENV)
        env[DUMP_ENV] = str(dump)
        project = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [project, env.get("PYTHONPATH")]))
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=os.name == "posix",  # a process group to kill as a whole
        )
        assert proc.stdout is not None
        if os.name != "posix":  # no select() on pipes, no process groups: plain reads
            timer = None
            if deadline is not None:
                timer = threading.Timer(max(0.0, deadline - time.monotonic()), proc.kill)
                timer.start()
            try:
                decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
                while chunk := os.read(proc.stdout.fileno(), 65536):
                    self.echo(decoder.decode(chunk))
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            code = proc.wait()
            return code, deadline is not None and time.monotonic() >= deadline
        with proc.stdout:
            out_fd = os.dup(proc.stdout.fileno())
        return self._relay(out_fd, proc.pid, deadline, lambda: _exited(proc.pid), proc.wait)

    def _pump(self, fd: int, exited: Callable[[], bool], deadline: float | None) -> bool:
        """Pass the run's output on as it comes, until the run ends; True if it ran too long.

        The run ends when it closes its output, or when its process has exited (a process it
        started may still hold the output open: it is killed with the group afterwards).
        """
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            wait = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            ready, _, _ = select.select([fd], [], [], wait)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return False
                self.echo(decoder.decode(chunk))
                continue
            if deadline is not None and time.monotonic() >= deadline:
                return True
            if exited():
                while select.select([fd], [], [], 0)[0] and (chunk := os.read(fd, 65536)):
                    self.echo(decoder.decode(chunk))
                return False


def _exercise() -> None:
    """One tiny training step of each common kind, diagnosed and rendered, then thrown away."""
    import torch
    from torch import nn

    import diagnostics
    from diagnostics import report_text

    torch.set_num_threads(1)  # before the first operation: see the module's docstring
    torch.manual_seed(0)
    conv = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(16, 3),
    )
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    images, labels = torch.randn(8, 1, 4, 4), torch.randint(0, 3, (8,))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.randn(8, 4), torch.randn(8, 1)), batch_size=4
    )
    adamw = torch.optim.AdamW(conv.parameters(), lr=1e-3)
    sgd = torch.optim.SGD(mlp.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(adamw, step_size=1)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        with diagnostics.watch() as report:
            adamw.zero_grad()
            nn.functional.cross_entropy(conv(images), labels).backward()
            adamw.step()
            scheduler.step()
            for x, y in loader:  # no zero_grad: a finding, so that rendering warms up too
                nn.functional.mse_loss(mlp(x), y).backward()
                sgd.step()
            conv.eval()
            with torch.no_grad():
                conv(images)
            copy.deepcopy(conv.state_dict())
        report_text(report)


def _child(
    args: list[str], write_fd: int, dump: Path, cwd: Path | None, *, single_thread: bool
) -> None:
    """Run pytest with stdout and stderr going to the pipe, then leave without cleanup."""
    code = 3
    try:
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # a group of its own, which the parent kills as a whole
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ[DUMP_ENV] = str(dump)
        if cwd is not None:
            os.chdir(cwd)
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        os.environ.update(ENV)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        if single_thread:
            import torch

            torch.set_num_threads(1)
        import pytest

        code = int(pytest.main(args))
    except KeyboardInterrupt:
        code = 2
    except BaseException as exc:  # report it through the pipe; the parent shows the output
        print(f"kata: the test run failed to start: {exc!r}", file=sys.stderr)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)  # skip the parent's atexit handlers and buffers


def _exited(pid: int) -> bool:
    """Has the process ended? (Without reaping it: its group id stays reserved until then.)"""
    try:
        if hasattr(os, "waitid"):
            flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
            return os.waitid(os.P_PID, pid, flags) is not None
        done, _ = os.waitpid(pid, os.WNOHANG)  # pragma: no cover (macOS)
    except ChildProcessError:
        return True
    return bool(done)  # pragma: no cover


def _reap(pid: int) -> int:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # pragma: no cover (reaped already)
        return 0
    return os.waitstatus_to_exitcode(status)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def _dump_and_kill(pid: int) -> None:
    """Ask a run for its stacks (faulthandler answers even when Python is stuck), then kill it."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGUSR1)
        time.sleep(0.3)
    _kill_group(pid)


def _stop(pid: int) -> None:
    """End a run after Ctrl-C reached us: let it finish (it reports the interruption), then kill."""
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGINT)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and not _exited(pid):
        time.sleep(0.02)
    _kill_group(pid)


_DUMP_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+) in (?P<func>\S+)')


def _learner_line(dump: Path, learner_dirs: Sequence[Path]) -> str | None:
    """``train.py:12: while True:``, the learner's most recent frame in a faulthandler dump."""
    try:
        text = dump.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    folders = {Path(d).resolve() for d in learner_dirs}
    for line in text.splitlines():
        match = _DUMP_FRAME.match(line)
        if not match:
            continue
        path = Path(match["file"])
        if path.name != TEST_FILE and path.resolve().parent in folders:
            source = linecache.getline(str(path), int(match["line"])).strip()
            return (
                f"{path.name}:{match['line']}: {source}"
                if source
                else f"{path.name}:{match['line']}"
            )
    return None


def _read_report(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    katas = data.get("katas") if isinstance(data, dict) else None
    return katas if isinstance(katas, dict) else {}


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _autograd_survives_fork(limit: float = 20.0) -> bool:
    """Can a forked child of this process run ``backward()``?

    Not once this process has started autograd's worker threads (a compiled model's backward,
    a device's queue): torch then refuses every backward in a forked child ("Unable to handle
    autograd's threading in combination with fork-based multiprocessing"), so each run must be
    a fresh subprocess instead. The ``kata`` command never trains before it forks; a process
    that did (a test suite, a notebook) is probed once, with a tiny backward in a child.
    """
    if "torch" not in sys.modules:
        return True
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            import torch

            torch.ones(1, requires_grad=True).sum().backward()
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.01)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return False
