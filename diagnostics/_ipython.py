"""IPython extension: ``%load_ext diagnostics``, then ``%%diagnose`` runs a cell under watch().

In a notebook the findings show as rich output; in a terminal IPython, as text.
"""

from __future__ import annotations

import shlex
from typing import Any

from ._catalogue import UnknownCodeError, check_codes
from ._render import render_report
from ._watch import watch

_USAGE = "usage: %%diagnose [--allow CODE]... [--report NAME]"


def _parse(line: str) -> tuple[list[str], str | None]:
    allow: list[str] = []
    name = None
    words = shlex.split(line)
    while words:
        word = words.pop(0)
        if word in ("--allow", "--report") and words:
            value = words.pop(0)
            if word == "--allow":
                allow.append(value)
            else:
                name = value
        else:
            raise ValueError(f"%%diagnose: unexpected {word!r}. {_USAGE}")
    return allow, name


def diagnose(line: str, cell: str, *, shell: Any) -> None:
    """Run ``cell`` in the user's namespace under diagnostics.watch() and show the findings."""
    try:
        allow, name = _parse(line)
        w = watch(allow=check_codes(allow))
    except (ValueError, UnknownCodeError) as problem:
        print(problem)
        return
    w.start()
    result = None
    try:
        result = shell.run_cell(cell)
    finally:
        w.stop(getattr(result, "error_in_exec", None))
    if name:
        shell.user_ns[name] = w.report
    render_report(w.report, console=_console())


def _console() -> Any:
    from rich.console import Console

    return Console()  # rich renders HTML in Jupyter and text in a terminal by itself


def load_ipython_extension(ipython: Any) -> None:
    def magic(line: str, cell: str) -> None:
        diagnose(line, cell, shell=ipython)

    magic.__doc__ = f"Run the cell under diagnostics.watch() and show what went wrong.\n{_USAGE}"
    ipython.register_magic_function(magic, magic_kind="cell", magic_name="diagnose")
