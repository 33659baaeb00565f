"""Commands the tests run as fresh processes, run in a fork of this test process instead,
which has imported torch already: ``python -m MODULE ARGS`` (``ForkedCommand``, ``run_forked``)
and ``pytester.runpytest_subprocess`` (``runpytest_forked``).

A fresh interpreter that trains pays about 2.5 s of CPU before its first step: ``import torch``
and ``torch._dynamo`` (which torch imports when the first optimizer is built); a fresh pytest
adds its plugins and hypothesis (which its plugin imports for the summary), 1 s more. A fork
starts with all of that imported, and is otherwise made to look like a process just started
(``_fresh_process_state``): its own folder, environment and standard streams, Python's default
signal handlers and warning filters, no exit handlers, logging handlers or assert rewriting
of this session, the command's folder and ``PYTHONPATH`` first on ``sys.path``, torch on one
thread (its thread pool does not survive a fork). It ends as an interpreter ends. Nothing it
does reaches this process.

What a fork cannot show: which modules a command imports (torch is always there), how a fresh
interpreter starts (``sys.flags``, site, a process of its own for torchrun or the ``spawn``
start method) and what an exit code owes to the interpreter rather than to the command. The
tests of those keep a real subprocess. The project's ``kata`` command forks its test runs in
the same way (kata/running/runner.py).
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import logging
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import IO, Literal

import pytest
from _pytest.pathlib import make_numbered_dir

# A fresh interpreter's warning filters (no -W option, no PYTHONWARNINGS): not this process's,
# which carry the project's own `filterwarnings = error::DeprecationWarning`.
_FRESH_FILTERS: tuple[tuple[Literal["default", "ignore"], type[Warning], str], ...] = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
)


def _warm() -> None:
    """Import what every training run imports, once: at collection, before pytester's first
    snapshot of sys.modules (a module it forgets after a run would be imported twice)."""
    import importlib.util

    import torch
    import torch._dynamo  # noqa: F401  (torch imports it at the first optimizer)

    if importlib.util.find_spec("hypothesis") is not None:
        import hypothesis  # noqa: F401  (its plugin imports it at every run's summary)


_warm()


# -- a command, `python -m MODULE ARGS`, in a fork ----------------------------------------------

PIPE = subprocess.PIPE


class ForkedCommand:
    """``python -m MODULE ARGS`` run in a fork of this process, as ``subprocess.Popen`` runs it:
    in ``cwd`` with ``env`` as its whole environment, ``MODULE`` run as ``__main__``, stdin,
    stdout and stderr each a file descriptor (a pseudo-terminal's end), ``PIPE`` (read here as
    text) or, for stdin, nothing (``/dev/null``). It ends as an interpreter does: non-daemon
    threads joined, its own atexit handlers run, ``sys.exit``'s status, a traceback and status 1
    for an exception, killed by SIGINT for an uncaught ``KeyboardInterrupt``.

    The subset of ``Popen`` the tests use: ``pid``, ``stdout``, ``stderr``, ``returncode``,
    ``poll()``, ``wait()``, ``communicate()``, ``send_signal()``, ``kill()``.
    """

    def __init__(
        self,
        module: str,
        *args: str,
        env: dict[str, str],
        cwd: Path,
        stdin: int | None = None,
        stdout: int = PIPE,
        stderr: int = PIPE,
    ) -> None:
        self.returncode: int | None = None
        self.stdout: IO[str] | None = None
        self.stderr: IO[str] | None = None
        pipes = {}
        fds = {0: os.open(os.devnull, os.O_RDONLY) if stdin is None else stdin}
        for fd, target in ((1, stdout), (2, stderr)):
            if target == PIPE:
                pipes[fd] = os.pipe()
                fds[fd] = pipes[fd][1]
            else:
                fds[fd] = target
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover (the child leaves through os._exit)
            for read_end, _ in pipes.values():
                os.close(read_end)
            _run_module(module, list(args), env, cwd, fds)
        if stdin is None:
            os.close(fds[0])
        for fd, (read_end, write_end) in pipes.items():
            os.close(write_end)
            stream = open(read_end, encoding="utf-8", errors="replace")  # noqa: SIM115
            if fd == 1:
                self.stdout = stream
            else:
                self.stderr = stream

    def poll(self) -> int | None:
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.002
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"python -m ... (pid {self.pid})", timeout or 0)
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """The rest of stdout and stderr (what was piped), once the command has ended."""
        texts = {}

        def read(name: str, stream: IO[str] | None) -> None:
            texts[name] = stream.read() if stream is not None else ""

        readers = [
            threading.Thread(target=read, args=(name, stream), daemon=True)
            for name, stream in (("out", self.stdout), ("err", self.stderr))
        ]
        deadline = None if timeout is None else time.monotonic() + timeout
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if reader.is_alive():
                raise subprocess.TimeoutExpired(f"python -m ... (pid {self.pid})", timeout or 0)
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        return texts["out"], texts["err"]

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            self.wait()


def run_forked(
    module: str, *args: str, env: dict[str, str], cwd: Path, timeout: float = 300.0
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([python, -m, MODULE, *ARGS], capture_output=True, text=True)`` in a fork."""
    command = ForkedCommand(module, *args, env=env, cwd=cwd)
    try:
        out, err = command.communicate(timeout=timeout)
    finally:
        command.kill()
    assert command.returncode is not None
    return subprocess.CompletedProcess([module, *args], command.returncode, out, err)


def _fresh_process_state(env: dict[str, str], cwd: Path, fds: dict[int, int]) -> None:
    """Make this forked child look like a process just started: stdio, environment, folder,
    signal handlers, warning filters, exit handlers, logging."""
    os.chdir(cwd)
    for fd, source in fds.items():
        if source != fd:
            os.dup2(source, fd)
    for source in set(fds.values()) - {0, 1, 2}:
        os.close(source)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr  # type: ignore[misc]
    os.environ.clear()
    os.environ.update(env)
    faulthandler.disable()  # this process's, pointed at its own stderr
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGALRM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, 0)
    warnings.resetwarnings()
    for action, category, module in reversed(_FRESH_FILTERS):
        warnings.filterwarnings(action, category=category, module=module)
    atexit._clear()  # this process's handlers are not the command's
    logging.root.handlers.clear()
    logging.root.setLevel(logging.WARNING)
    for name in [n for n in sys.modules if n == "conftest" or n.startswith("conftest.")]:
        del sys.modules[name]  # this session's root conftest
    # This session's assert rewriting (an import hook): a fresh interpreter has none.
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "AssertionRewritingHook"]
    python_path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:0] = [str(cwd), *python_path]  # as `python -m` started in cwd finds modules

    import torch

    torch.set_num_threads(1)  # torch's thread pool does not survive a fork


def _run_module(
    module: str, args: list[str], env: dict[str, str], cwd: Path, fds: dict[int, int]
) -> None:
    code = 1
    interrupted = False
    try:
        _fresh_process_state(env, cwd, fds)
        sys.argv = [module, *args]  # runpy puts the module's file first
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = _exit_status(exc.code)
        except KeyboardInterrupt:
            traceback.print_exc()
            interrupted = True
        except BaseException:
            traceback.print_exc()
            code = 1
        threading._shutdown()  # type: ignore[attr-defined]  # as the interpreter's exit does
        atexit._run_exitfuncs()
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            if interrupted:  # as Python ends on an uncaught KeyboardInterrupt
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGINT)
        finally:
            os._exit(code)


def _exit_status(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives an interpreter."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def runpytest_forked(
    pytester: pytest.Pytester, *args: str, timeout: float = 300.0
) -> pytest.RunResult:
    """``pytester.runpytest_subprocess(*args)``: ``python -m pytest ARGS`` in the pytester
    folder (first on ``PYTHONPATH`` too), stdin closed, stdout and stderr in files there."""
    __tracebackhide__ = True
    basetemp = make_numbered_dir(root=pytester.path, prefix="runpytest-", mode=0o700)
    argv = [f"--basetemp={basetemp}", *args]
    for plugin in pytester.plugins:
        if not isinstance(plugin, str):
            raise ValueError(f"a forked run loads plugins by name, not {plugin!r}")
        argv = ["-p", plugin, *argv]
    folder = pytester.path
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    out, err = folder / "stdout", folder / "stderr"
    start = time.monotonic()
    with out.open("wb") as out_file, err.open("wb") as err_file:
        command = ForkedCommand(
            "pytest", *argv, env=env, cwd=folder, stdout=out_file.fileno(),
            stderr=err_file.fileno(),
        )  # fmt: skip
    try:
        code = command.wait(timeout)
    except subprocess.TimeoutExpired:
        command.kill()
        raise pytester.TimeoutExpired(f"the forked pytest run took more than {timeout} s") from None
    duration = time.monotonic() - start
    outlines = out.read_text(encoding="utf-8", errors="replace").splitlines()
    errlines = err.read_text(encoding="utf-8", errors="replace").splitlines()
    print("\n".join(outlines))  # shown with a failing test, as pytester.run shows them
    print("\n".join(errlines), file=sys.stderr)
    return pytest.RunResult(code, outlines, errlines, duration)
