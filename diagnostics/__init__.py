"""Runtime diagnostics for PyTorch training loops.

    import diagnostics

    with diagnostics.watch() as report:
        train()
    print(report.codes())

Or, with no change to a script: ``python -m diagnostics train.py``.
"""

from __future__ import annotations

from ._catalogue import CATALOGUE, CodeInfo, Severity, UnknownCodeError
from ._engine import Watch, watch
from ._findings import Finding, Location, Report

__all__ = [
    "CATALOGUE",
    "CodeInfo",
    "Finding",
    "Location",
    "Report",
    "Severity",
    "UnknownCodeError",
    "Watch",
    "watch",
]
