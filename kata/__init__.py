"""Course tooling for torch-katas: kata metadata, the learner's progress, the pytest plugin.

    import kata

    for meta in kata.discover("."):
        print(meta.id, meta.title)
    progress = kata.load_progress(".")
    progress.use_hint("day11/01_zero_grad")
    progress.save()

The pytest plugin (``kata.plugin.hooks``) provides the ``kata`` fixture to the katas' tests.
"""

from __future__ import annotations

from kata.course.loader import KataLoadError
from kata.course.meta import KataMeta, KataMetaError, KataNotFoundError, discover, find
from kata.course.meta import load as load_meta
from kata.course.progress import Progress, ProgressSaveError, ProgressWarning
from kata.course.progress import load as load_progress

__all__ = [
    "KataLoadError",
    "KataMeta",
    "KataMetaError",
    "KataNotFoundError",
    "Progress",
    "ProgressSaveError",
    "ProgressWarning",
    "discover",
    "find",
    "load_meta",
    "load_progress",
]
