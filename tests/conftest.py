"""Fixtures the test modules share (the helpers they share are in ``tests/helpers.py``).

``course`` is a fresh copy of the tiny fake course ``tests/data/cli_course``; a module that
needs another course (the real one, a pytester folder, a course of invalid katas) defines its
own ``course``, which replaces this one there.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import CLI_COURSE, copy_course, kata_command


def pytest_cmdline_main(config: pytest.Config) -> None:
    """Under ``-n`` with no ``--dist`` asked for, xdist's work stealing: each worker starts on
    its own half of the suite, in order (a module's tests and fixtures stay together), and one
    that runs out takes half of what another has left, so no worker waits at the end while the
    other finishes a run of long tests."""
    if not getattr(config.option, "numprocesses", None) or config.option.dist != "load":
        return
    given = [*config.invocation_params.args, *shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))]
    if not any(str(arg).startswith(("--dist", "-d")) for arg in given):
        config.option.dist = "worksteal"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A copy of tests/data/cli_course in this test's temporary folder."""
    return copy_course(CLI_COURSE, tmp_path / "course")


@pytest.fixture
def drill(course: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``kata drill ARGS --root course``; returns (exit code, stdout, stderr)."""
    return kata_command(capsys, "drill", root=course)
