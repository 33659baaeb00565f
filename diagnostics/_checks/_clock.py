"""The progress of a watched run, counted once by the engine for every check of a watch.

Several families need to know where training stands when something rare happens (a state
dict is taken, gradients are clipped, a scheduler steps): how many backward() calls and
optimizer steps came before, and which optimizers stepped since the last backward(). The
engine keeps these counts as the events happen, so that such a family needs no handler of
its own on every backward and step: it reads the clock at its rare event.

Only the events the engine reports count: outer backward() calls and steps of optimizers over
real tensors (not meta or fake ones), in the watch's thread.
"""

from __future__ import annotations

import weakref
from typing import Any


class OptimizerSteps:
    """One optimizer's steps, as the clock of a watch counted them."""

    __slots__ = ("backwards", "ref", "steps", "tick")

    def __init__(self, optimizer: Any) -> None:
        self.ref = weakref.ref(optimizer)
        self.steps = 0  # its completed steps
        self.tick = 0  # the clock's ticks at its latest step
        self.backwards = 0  # the clock's backward() calls at its latest step


class Clock:
    """backward() calls and optimizer steps since the watch started."""

    __slots__ = ("_last", "_optimizers", "backwards", "steps")

    def __init__(self) -> None:
        self.backwards = 0  # backward() calls begun
        self.steps = 0  # completed steps of every optimizer together
        self._optimizers: dict[int, OptimizerSteps] = {}
        self._last: OptimizerSteps | None = None

    @property
    def ticks(self) -> int:
        """backward() calls and optimizer steps so far: what moves as training goes on."""
        return self.backwards + self.steps

    def stepped(self, optimizer: Any) -> None:
        """``optimizer`` completed a step (the engine calls this before the step's handlers)."""
        self.steps += 1
        entry = self._last
        if entry is None or entry.ref() is not optimizer:
            entry = self.of(optimizer)
            self._last = entry
        entry.steps += 1
        entry.tick = self.backwards + self.steps
        entry.backwards = self.backwards

    def of(self, optimizer: Any) -> OptimizerSteps:
        """The steps of ``optimizer`` (none yet when it was never seen stepping)."""
        entry = self._optimizers.get(id(optimizer))
        if entry is None or entry.ref() is not optimizer:
            entry = self._optimizers[id(optimizer)] = OptimizerSteps(optimizer)
        return entry

    def optimizers(self) -> list[tuple[Any, OptimizerSteps]]:
        """Every optimizer seen (still alive), with its steps."""
        return [(opt, e) for e in self._optimizers.values() if (opt := e.ref()) is not None]

    def stepped_since_backward(self) -> list[tuple[Any, int]]:
        """The optimizers that stepped since the latest backward() began, with their step
        counts (optimizers that are gone are left out)."""
        out = []
        for entry in self._optimizers.values():
            if entry.steps and entry.backwards == self.backwards:
                optimizer = entry.ref()
                if optimizer is not None:
                    out.append((optimizer, entry.steps))
        return out
