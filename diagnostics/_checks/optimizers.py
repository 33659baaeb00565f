"""Checks of the 'optimizers' family (see diagnostics/_catalogue.py for their codes)."""

from __future__ import annotations

from ._base import Check


class OptimizerChecks(Check):
    """Not written yet."""
