"""Checks of the 'checkpoints' family (see diagnostics/_catalogue.py for their codes)."""

from __future__ import annotations

from ._base import Check


class CheckpointChecks(Check):
    """Not written yet."""
