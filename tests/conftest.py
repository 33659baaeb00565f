"""Fixtures the test modules share (the helpers they share are in ``tests/helpers.py``).

``course`` is a fresh copy of the tiny fake course ``tests/data/cli_course``; a module that
needs another course (the real one, a pytester folder, a course of invalid katas) defines its
own ``course``, which replaces this one there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import CLI_COURSE, copy_course, kata_command


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A copy of tests/data/cli_course in this test's temporary folder."""
    return copy_course(CLI_COURSE, tmp_path / "course")


@pytest.fixture
def drill(course: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``kata drill ARGS --root course``; returns (exit code, stdout, stderr)."""
    return kata_command(capsys, "drill", root=course)
