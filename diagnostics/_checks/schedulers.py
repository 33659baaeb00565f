"""Checks of the 'schedulers' family (see diagnostics/_catalogue.py for their codes)."""

from __future__ import annotations

from ._base import Check


class SchedulerChecks(Check):
    """Not written yet."""
