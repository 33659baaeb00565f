"""Checks of the 'gradients' family (see diagnostics/_catalogue.py for their codes)."""

from __future__ import annotations

from ._base import Check


class GradientChecks(Check):
    """Not written yet."""
