"""Checks of the 'shapes' family (see diagnostics/_catalogue.py for their codes)."""

from __future__ import annotations

from ._base import Check


class ShapeChecks(Check):
    """Not written yet."""
