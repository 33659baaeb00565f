"""Checks of the 'modes' family (see diagnostics/_catalogue.py for their codes)."""

from __future__ import annotations

from ._base import Check


class ModeChecks(Check):
    """Not written yet."""
