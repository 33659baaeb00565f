"""Line markers for tests that assert where a finding points.

A test marks a line of its own file with a trailing comment ``# <marker>`` and asks for its
number, so that no assertion hard-codes a line number.
"""

from __future__ import annotations

import sys
from pathlib import Path


def line_of(marker: str, path: str | Path | None = None) -> int:
    """The line of ``path`` (default: the caller's file) that ends with ``# <marker>``."""
    if path is None:
        path = sys._getframe(1).f_code.co_filename
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    hits = [n for n, text in enumerate(lines, 1) if text.rstrip().endswith(f"# {marker}")]
    assert len(hits) == 1, f"marker {marker!r} must end exactly one line of {path}"
    return hits[0]
