"""Checks of the 'devices' family (see diagnostics/_catalogue.py for their codes)."""

from __future__ import annotations

from ._base import Check


class DeviceChecks(Check):
    """Not written yet."""
