"""The ``kata`` command: the parser (``app``) and one module per group of commands (learn,
watch, drill, lab, mystery, author, grade). ``kata.cli:main`` is the console entry point.

The top room: it may import every other room, and none imports it.
"""

from __future__ import annotations

from .app import main

__all__ = ["main"]
