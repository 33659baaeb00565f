"""Import a learner's file by path, and explain in the kata's words why it would not load.

Each load gets a module name of its own, so that the same ``train.py`` of two katas, or of
one kata run with several seeds, never shares a cached module.
"""

from __future__ import annotations

import importlib.util
import itertools
import linecache
import re
import sys
import types
from pathlib import Path

__all__ = ["KataLoadError", "load_file"]

_COUNTER = itertools.count(1)


class KataLoadError(Exception):
    """The learner's file could not be loaded; the message says why, in plain words."""

    def __init__(self, message: str, *, path: Path, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


def load_file(path: Path, *, label: str) -> types.ModuleType:
    """Execute ``path`` as a fresh module and return it.

    ``label`` makes the module name readable in tracebacks (``kata_day11_01_zero_grad_train_3``).
    Raises :class:`KataLoadError` for a syntax error, a failed import, or any exception raised
    while the file's top level runs.
    """
    name = f"kata_{re.sub(r'[^0-9a-zA-Z_]', '_', label)}_{next(_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise KataLoadError(f"{path} is not a Python file that can be loaded.", path=path)
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs: dataclasses and pickling look their module up by name.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        if exc.filename and Path(exc.filename).resolve() == path.resolve():
            raise KataLoadError(_syntax_message(path, exc), path=path, line=exc.lineno) from None
        raise KataLoadError(_raised_message(path, exc), path=path) from None
    except ImportError as exc:
        sys.modules.pop(name, None)
        line = _line_in(path, exc.__traceback__)
        raise KataLoadError(_import_message(path, exc, line), path=path, line=line) from None
    except Exception as exc:
        sys.modules.pop(name, None)
        line = _line_in(path, exc.__traceback__)
        raise KataLoadError(_raised_message(path, exc, line), path=path, line=line) from None
    return module


def _syntax_message(path: Path, exc: SyntaxError) -> str:
    kind = "an indentation error" if isinstance(exc, IndentationError) else "a syntax error"
    text = f"Your {path.name} has {kind} at line {exc.lineno}: {exc.msg}."
    source = (exc.text or linecache.getline(str(path), exc.lineno or 0)).rstrip("\n")
    if source.strip():
        gutter = f"{exc.lineno:>6} | "
        text += f"\n{gutter}{source}"
        if exc.offset:
            text += "\n" + " " * (len(gutter) - 2) + "| " + " " * (exc.offset - 1) + "^"
    return text + "\nPython reads the whole file before running it: fix that line first."


def _import_message(path: Path, exc: ImportError, line: int | None) -> str:
    where = f" (line {line})" if line else ""
    text = f"Your {path.name} could not import what it needs{where}: {exc}."
    text += _source_line(path, line)
    return text + "\nCheck the spelling of the module or of the name imported from it."


def _raised_message(path: Path, exc: BaseException, line: int | None = None) -> str:
    where = f" at line {line}" if line else ""
    text = (
        f"Your {path.name} raised {type(exc).__name__} while it was loaded{where}: {exc}."
        + _source_line(path, line)
    )
    return text + (
        "\nThe top level of the file runs when the kata loads it: keep training inside "
        "functions and under 'if __name__ == \"__main__\":'."
    )


def _source_line(path: Path, line: int | None) -> str:
    if not line:
        return ""
    source = linecache.getline(str(path), line).rstrip("\n")
    return f"\n{line:>6} | {source}" if source.strip() else ""


def _line_in(path: Path, tb: types.TracebackType | None) -> int | None:
    """The last line of ``path`` in a traceback: where the learner's file went wrong."""
    target = path.resolve()
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == target:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
