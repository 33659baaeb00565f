"""Find the place in the user's code that a finding points at."""

from __future__ import annotations

import os
import sys
import sysconfig
import types
from pathlib import Path

import torch

from ._findings import Location

_HERE = Path(__file__).resolve().parent
_LIBRARY_DIRS = tuple(
    {
        os.path.dirname(torch.__file__) + os.sep,
        str(_HERE) + os.sep,
        # The project's own kata tooling and fixture models sit beside this package: a fault
        # inside them is the learner's call into them, never their code.
        str(_HERE.parent / "kata") + os.sep,
        str(_HERE.parent / "fixtures") + os.sep,
        sysconfig.get_paths()["stdlib"] + os.sep,
        os.path.dirname(os.__file__) + os.sep,
    }
)
# Frames from these packages are plumbing around the user's code, never the fault itself.
# Installed packages (site-packages) are libraries the user calls, not the user's code: a fault
# inside a trainer library is reported at the user's call into it.
_PLUMBING = (
    "site-packages",
    "dist-packages",
    "_pytest",
    "pytest",
    "pluggy",
    "xdist",
    "execnet",
    "runpy",
    "IPython",
    "ipykernel",
    "torchvision",
    "rich",
)


def is_user_file(filename: str) -> bool:
    if not filename or filename.startswith("<frozen"):
        return False
    if filename.startswith(_LIBRARY_DIRS):
        return False
    parts = Path(filename).parts
    return not any(p in _PLUMBING for p in parts)


def _hidden(frame: types.FrameType) -> bool:
    """Frames that ask to be hidden from tracebacks (pytest's convention) are not the user's."""
    return (
        bool(frame.f_locals.get("__tracebackhide__", False))
        if "__tracebackhide__" in frame.f_code.co_varnames
        else False
    )


def _display(filename: str) -> str:
    try:
        rel = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if rel.startswith("..") else rel


def frame_location(frame: types.FrameType, line: int | None = None) -> Location:
    code = frame.f_code
    return Location(_display(code.co_filename), line or frame.f_lineno, code.co_name)


def user_location(skip: int = 1) -> Location | None:
    """The innermost frame of the current stack that belongs to the user's code."""
    frame: types.FrameType | None = sys._getframe(skip)
    while frame is not None:
        if is_user_file(frame.f_code.co_filename) and not _hidden(frame):
            return frame_location(frame)
        frame = frame.f_back
    return None


def user_stack(skip: int = 1, limit: int = 4) -> list[Location]:
    """The user's frames, innermost first (for evidence such as 'called from')."""
    out: list[Location] = []
    frame: types.FrameType | None = sys._getframe(skip)
    while frame is not None and len(out) < limit:
        if is_user_file(frame.f_code.co_filename) and not _hidden(frame):
            out.append(frame_location(frame))
        frame = frame.f_back
    return out


def traceback_user_location(tb: types.TracebackType | None) -> Location | None:
    """The deepest user frame of a traceback: where the user's code called into the failure."""
    found = None
    while tb is not None:
        if is_user_file(tb.tb_frame.f_code.co_filename) and not _hidden(tb.tb_frame):
            found = frame_location(tb.tb_frame, tb.tb_lineno)
        tb = tb.tb_next
    return found
