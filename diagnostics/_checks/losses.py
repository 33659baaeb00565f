"""Checks of the 'losses' family (see diagnostics/_catalogue.py for their codes)."""

from __future__ import annotations

from ._base import Check


class LossChecks(Check):
    """Not written yet."""
