"""Find the place in the user's code that a finding points at.

One rule decides whether a frame is the user's (:func:`is_user_frame`): its file is not
library code, and it does not ask to be hidden from tracebacks. Library code is torch, this
package, the standard library, installed packages (site-packages) and the plumbing that runs
a script (pytest, IPython, runpy), plus the folders of the packages that declare themselves
through the ``diagnostics.library_packages`` entry-point group, and the folders a programme
registers with :func:`add_library_folder`. A fault inside library code is reported at the
user's call into it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
import types
from importlib.metadata import entry_points
from pathlib import Path

import torch

from ._findings import Location

__all__ = [
    "ENTRY_POINT_GROUP",
    "add_library_folder",
    "display_path",
    "frame_location",
    "hides_itself",
    "is_user_file",
    "is_user_frame",
    "traceback_user_location",
    "user_frame",
    "user_frames",
    "user_location",
    "user_stack",
]

# A distribution lists, in this entry-point group, the packages whose folders are library code
# (``kata = "kata"`` in its pyproject.toml): a frame in them is plumbing, never the user's fault.
ENTRY_POINT_GROUP = "diagnostics.library_packages"

_HERE = Path(__file__).resolve().parent
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
_added: set[str] = set()  # folders registered at run time by add_library_folder()
_library: tuple[str, ...] | None = None  # every library folder, each ending in os.sep
_user_file: dict[str, bool] = {}  # filename -> is_user_file(filename): frame walks are hot


def _folder(path: str | os.PathLike[str]) -> str:
    return os.path.join(os.path.abspath(path), "")


def _declared_folders() -> set[str]:
    """The folders of the packages declared in the entry-point group; missing ones skipped."""
    found: set[str] = set()
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            # find_spec locates a top-level package without importing it
            spec = importlib.util.find_spec(entry.module)
        except (ImportError, ValueError):
            continue  # declared, but not importable here (renamed, not installed)
        if spec is None:
            continue
        for location in spec.submodule_search_locations or ():
            found.add(_folder(location))
        if not spec.submodule_search_locations and spec.origin:
            found.add(_folder(os.path.dirname(spec.origin)))  # a single-module package
    return found


def _library_folders() -> tuple[str, ...]:
    global _library
    if _library is None:
        builtin = {
            _folder(os.path.dirname(torch.__file__)),
            _folder(_HERE),
            _folder(sysconfig.get_paths()["stdlib"]),
            _folder(os.path.dirname(os.__file__)),
        }
        _library = tuple(sorted(builtin | _declared_folders() | _added))
    return _library


def add_library_folder(path: str | os.PathLike[str]) -> None:
    """Count the files under ``path`` as library code, not the user's, from now on.

    For a programme that runs the user's code through helpers of its own (a course's tooling,
    a training framework used from a checkout): a fault inside them is reported at the user's
    call into them. An installed package declares its folder once in its ``pyproject.toml``
    instead, in the ``diagnostics.library_packages`` entry-point group.
    """
    global _library
    folder = _folder(path)
    if not os.path.isdir(folder):
        raise NotADirectoryError(
            f"diagnostics.add_library_folder({os.fspath(path)!r}): no such folder. Pass the "
            "folder that holds the library's modules (for a package, its __init__.py's folder)."
        )
    _added.add(folder)
    _library = None
    _user_file.clear()


def is_user_file(filename: str) -> bool:
    """Is ``filename`` the user's code (not a library's, not generated code)?"""
    user = _user_file.get(filename)
    if user is None:
        user = _user_file[filename] = _judge_file(filename)
    return user


def _judge_file(filename: str) -> bool:
    if not filename or filename.startswith("<frozen"):
        return False
    if filename.startswith(_library_folders()):
        return False
    parts = Path(filename).parts
    return not any(p in _PLUMBING for p in parts)


def hides_itself(frame: types.FrameType) -> bool:
    """Does the frame ask, the pytest way (``__tracebackhide__``), to stay out of tracebacks?

    In its function's locals (a helper's frame) or its module's globals (a whole module of
    plumbing, such as a simulated device raising torch's error from its dispatch).
    """
    if "__tracebackhide__" in frame.f_code.co_varnames and frame.f_locals.get(
        "__tracebackhide__", False
    ):
        return True
    return bool(frame.f_globals.get("__tracebackhide__", False))


def is_user_frame(frame: types.FrameType) -> bool:
    """The one rule: is this frame the user's code? (Its file is, and it does not hide.)"""
    return is_user_file(frame.f_code.co_filename) and not hides_itself(frame)


def display_path(filename: str) -> str:
    """``filename`` as a finding shows it: relative to the working folder when inside it."""
    try:
        rel = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if rel.startswith("..") else rel


def frame_location(frame: types.FrameType, line: int | None = None) -> Location:
    code = frame.f_code
    return Location(display_path(code.co_filename), line or frame.f_lineno, code.co_name)


def user_frame(skip: int = 1) -> types.FrameType | None:
    """The innermost frame of the current stack that belongs to the user's code."""
    frame: types.FrameType | None = sys._getframe(skip)
    while frame is not None and not is_user_frame(frame):
        frame = frame.f_back
    return frame


def user_location(skip: int = 1) -> Location | None:
    """The place of the innermost frame of the current stack that belongs to the user's code."""
    frame = user_frame(skip + 1)
    return frame_location(frame) if frame is not None else None


def user_frames(skip: int = 1, limit: int = 4) -> list[types.FrameType]:
    """The user's frames of the current stack, innermost first, at most ``limit``."""
    out: list[types.FrameType] = []
    frame: types.FrameType | None = sys._getframe(skip)
    while frame is not None and len(out) < limit:
        if is_user_frame(frame):
            out.append(frame)
        frame = frame.f_back
    return out


def user_stack(skip: int = 1, limit: int = 4) -> list[Location]:
    """The user's frames, innermost first (for evidence such as 'called from')."""
    return [frame_location(f) for f in user_frames(skip + 1, limit)]


def traceback_user_location(tb: types.TracebackType | None) -> Location | None:
    """The deepest user frame of a traceback: where the user's code called into the failure."""
    found = None
    while tb is not None:
        if is_user_frame(tb.tb_frame):
            found = frame_location(tb.tb_frame, tb.tb_lineno)
        tb = tb.tb_next
    return found
