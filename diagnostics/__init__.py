"""Runtime diagnostics for PyTorch training loops.

    import diagnostics

    with diagnostics.watch() as report:
        train()
    print(report.codes())

Or, with no change to a script: ``python -m diagnostics train.py``; in IPython or Jupyter,
``%load_ext diagnostics`` and a ``%%diagnose`` cell.
"""

from __future__ import annotations

from ._catalogue import CATALOGUE, CodeInfo, Severity, UnknownCodeError
from ._engine import Watch, watch
from ._findings import Finding, Location, Report


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext diagnostics``: adds the ``%%diagnose`` cell magic."""
    from ._ipython import load_ipython_extension as load

    load(ipython)


__all__ = [
    "CATALOGUE",
    "CodeInfo",
    "Finding",
    "Location",
    "Report",
    "Severity",
    "UnknownCodeError",
    "Watch",
    "load_ipython_extension",
    "watch",
]
