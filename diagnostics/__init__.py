"""Runtime diagnostics for PyTorch training loops.

    import diagnostics

    with diagnostics.watch() as report:
        train()
    print(report.codes())

Or, with no change to a script: ``python -m diagnostics train.py``; in IPython or Jupyter,
``%load_ext diagnostics`` and a ``%%diagnose`` cell.

The public API is what ``__all__`` lists; modules whose names start with ``_`` are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import files
from ._catalogue import CATALOGUE, CodeInfo, Severity, UnknownCodeError
from ._findings import Finding, Location, Report
from .files import write_atomically

if TYPE_CHECKING:
    from ._checks import ALL_CHECKS, Check
    from ._location import add_library_folder
    from ._render import render_report as render
    from ._render import report_text
    from ._watch import Watch, watch

# Imported on first use: the watch and the checks import torch, the renderer imports rich, and
# importing the package (the pytest plugin does, in every test run of a project where it is
# installed) stays cheap. name -> (module, attribute)
_LAZY = {
    "Watch": ("_watch", "Watch"),
    "watch": ("_watch", "watch"),
    "Check": ("_checks", "Check"),
    "ALL_CHECKS": ("_checks", "ALL_CHECKS"),
    "add_library_folder": ("_location", "add_library_folder"),
    "render": ("_render", "render_report"),
    "report_text": ("_render", "report_text"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = globals()[name] = getattr(
            importlib.import_module(f".{module}", __name__), attribute
        )
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext diagnostics``: adds the ``%%diagnose`` cell magic."""
    from ._ipython import load_ipython_extension as load

    load(ipython)


__all__ = [
    "ALL_CHECKS",
    "CATALOGUE",
    "Check",
    "CodeInfo",
    "Finding",
    "Location",
    "Report",
    "Severity",
    "UnknownCodeError",
    "Watch",
    "add_library_folder",
    "files",
    "load_ipython_extension",
    "render",
    "report_text",
    "watch",
    "write_atomically",
]
