"""``pytester.runpytest_subprocess``, run in a fork of this test process, which has imported
torch already.

A fresh ``python -m pytest`` that trains pays about 3 s of CPU besides its tests: pytest and
the plugins, ``import torch``, ``torch._dynamo`` (which torch imports when the first optimizer
is built) and hypothesis (which its pytest plugin imports for the summary). A fork of the test
process starts with all of it imported, and otherwise runs as the subprocess would: its own
process (nothing it does reaches this one), in the pytester folder, with that folder first on
``sys.path`` and ``PYTHONPATH``, a ``--basetemp`` of its own, stdin closed, stdout and stderr in
files, Python's own warning filters and SIGINT handler, and the same ``RunResult``.

What a fork cannot show: which modules a run imports (torch is always there), and how a fresh
interpreter starts or ends (atexit handlers do not run: the fork leaves with ``os._exit``).
The tests of those keep ``runpytest_subprocess``. The project's ``kata`` command forks its test
runs the same way (kata/running/runner.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import warnings
from pathlib import Path

import pytest
from _pytest.pathlib import make_numbered_dir

# A fresh interpreter's warning filters (no -W option, no PYTHONWARNINGS): not this process's,
# which carry the project's own `filterwarnings = error::DeprecationWarning`.
_FRESH_FILTERS = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, None),
    ("ignore", PendingDeprecationWarning, None),
    ("ignore", ImportWarning, None),
    ("ignore", ResourceWarning, None),
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


def runpytest_forked(
    pytester: pytest.Pytester, *args: str, timeout: float = 300.0
) -> pytest.RunResult:
    """Run ``pytest ARGS`` in the pytester folder, in a fork of this process."""
    __tracebackhide__ = True
    basetemp = make_numbered_dir(root=pytester.path, prefix="runpytest-", mode=0o700)
    argv = [f"--basetemp={basetemp}", *args]
    for plugin in pytester.plugins:
        if not isinstance(plugin, str):
            raise ValueError(f"a forked run loads plugins by name, not {plugin!r}")
        argv = ["-p", plugin, *argv]
    out, err = pytester.path / "stdout", pytester.path / "stderr"
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child leaves through os._exit)
        _child(pytester.path, argv, out, err)
    code = _wait(pid, start + timeout)
    duration = time.monotonic() - start
    if code is None:
        raise pytester.TimeoutExpired(f"the forked pytest run took more than {timeout} s")
    outlines = out.read_text(encoding="utf-8", errors="replace").splitlines()
    errlines = err.read_text(encoding="utf-8", errors="replace").splitlines()
    print("\n".join(outlines))  # shown with a failing test, as pytester.run shows them
    print("\n".join(errlines), file=sys.stderr)
    return pytest.RunResult(code, outlines, errlines, duration)


def _wait(pid: int, deadline: float) -> int | None:
    """The exit status of ``pid``; None (and the process killed) past ``deadline``."""
    pause = 0.002
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _child(folder: Path, argv: list[str], out: Path, err: Path) -> None:
    code = 3
    try:
        os.chdir(folder)
        stdin = os.open(os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        for fd, path in ((1, out), (2, err)):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        signal.signal(signal.SIGINT, signal.default_int_handler)
        warnings.resetwarnings()
        for action, category, module in reversed(_FRESH_FILTERS):
            warnings.filterwarnings(action, category=category, module=module or "")
        sys.path.insert(0, str(folder))  # as `python -m pytest` started there
        path = os.environ.get("PYTHONPATH", "")  # and as pytester gives its subprocesses
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), path]))
        for name in [n for n in sys.modules if n == "conftest" or n.startswith("conftest.")]:
            del sys.modules[name]  # this session's root conftest; the run has its own
        import torch

        # torch's thread pool does not survive a fork (DataLoader workers do the same).
        torch.set_num_threads(1)
        code = int(pytest.main(argv))
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            print(f"the forked pytest run failed: {exc!r}", file=sys.stderr)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
