"""Checks of the 'divergence' family: loss-diverging.

The training loss of each optimizer is its backward() losses since its previous step (their
mean, for accumulation over several batches), read once per backward() with ``item()`` (as
logging the loss does). Training diverges when that loss stands orders of magnitude above
where it started and above its running minimum, for several steps in a row, and is still
there when the watch ends: the learning rate is far too large (or the data unscaled), the
parameters are blowing up, and the loss has not yet become inf or NaN (``non-finite-loss``
reports that, and takes over when it happens).

Silent on: a loss that ever goes negative (RL objectives, WGAN critics, log-likelihoods of
densities: their magnitude says nothing about divergence), a loss that climbs less than
``_FACTOR`` times its starting level (GAN losses that oscillate, cosine warm restarts,
overfitting), early noise (a few steps above the start, by less than ``_FACTOR``), spikes
that recover before the watch ends (judged by the median of its last ``_SUSTAIN`` steps), and a
loss that starts tiny: it is measured from at least ``_SMALLEST_START`` (a model watched after
it already fits its data has a loss of 1e-14 that float rounding moves to 1e-10, and that Adam
may throw up to 1e-4 for a few steps, without anything diverging; a divergence climbs to at
least 1e-3).
"""

from __future__ import annotations

import collections
import math
import statistics
import weakref
from typing import Any

import torch

from .._findings import Location
from .._location import user_location
from ._base import Check, loss_value

_FACTOR = 1000.0  # how far above its start and its minimum the loss must stand
_SMALLEST_START = 1e-6  # a start or minimum below this counts as this: tinier is rounding
_SUSTAIN = 5  # consecutive steps it must stay there
_RECOVERED = 100.0  # below this many times its start at the end: it recovered
_SERIES = 200  # losses kept per optimizer for the evidence
_isfinite, _INF = math.isfinite, math.inf

MESSAGE = (
    "The training loss of {optimizer} diverged without becoming inf or NaN: it started near "
    "{start}, fell to {minimum} at best, and from step #{step} stood up to {ratio} times "
    "above that for {sustained} steps in a row; its latest value is {last}. A loss that "
    "climbs by orders of magnitude and stays there means the updates overshoot: the "
    "parameters grow with every step and the model predicts nothing useful (a classifier at "
    "chance), while every value stays finite."
)
FIX = (
    "Lower the learning rate (by 10x at a time; {lrs} now), check that the inputs and "
    "targets are scaled (standardise features, normalise regression targets), and add "
    "warm-up or gradient clipping (torch.nn.utils.clip_grad_norm_) between backward() and "
    "step()."
)


class _Series:
    """The per-step training losses of one optimizer."""

    __slots__ = (
        "done",
        "last",
        "location",
        "lr",
        "minimum",
        "negative",
        "peak_ratio",
        "recent",
        "run",
        "start",
        "steps",
        "threshold",
        "values",
    )

    def __init__(self) -> None:
        self.values: list[float] = []  # the first _SERIES losses, then the latest in the last
        self.steps = 0  # steps with a finite loss, counted past _SERIES too
        self.start = math.nan
        self.last = math.nan  # the latest loss, kept after the divergence is confirmed
        self.recent: collections.deque[float] = collections.deque(maxlen=_SUSTAIN)  # the latest
        self.minimum = math.inf
        self.threshold = math.inf  # far above the start and the minimum from here up
        self.negative = False
        self.peak_ratio = 0.0  # the loss over its minimum, at most, during the run
        self.run = 0  # consecutive steps far above start and minimum
        self.location: Location | None = None
        self.lr = ""
        self.done = False  # reported, or given up (non-finite)


class DivergenceChecks(Check):
    """loss-diverging."""

    family = "divergence"

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        self._pending: list[float] = []
        self._series: dict[int, tuple[weakref.ref[Any], _Series]] = {}
        self._last: tuple[weakref.ref[Any], _Series] | None = None  # the latest optimizer's
        self._found: list[tuple[int, _Series, int, str]] = []

    def on_backward(self, tensors: Any) -> None:
        for t in tensors:
            scalar = isinstance(t, torch.Tensor) and t.grad_fn is not None and t.numel() == 1
            if scalar and t.is_floating_point():
                self._pending.append(loss_value(t))

    def on_step_post(self, optimizer: Any) -> None:
        pending = self._pending
        if not pending:
            return
        value = pending[0] if len(pending) == 1 else sum(pending) / len(pending)
        self._pending = []
        entry = self._last
        if entry is None or entry[0]() is not optimizer:
            entry = self._series.get(id(optimizer))
            if entry is None or entry[0]() is not optimizer:
                entry = (weakref.ref(optimizer), _Series())
                self._series[id(optimizer)] = entry
            self._last = entry
        series = entry[1]
        if series.last == _INF:
            return  # it went inf: non-finite-loss speaks for it
        if not 0.0 <= value < _INF or series.negative:  # the rare cases first
            series.last = value if _isfinite(value) else _INF
            if value < 0:
                series.negative = True
            return
        series.last = value
        series.recent.append(value)
        series.steps += 1
        if series.steps <= _SERIES:
            series.values.append(value)
        else:
            series.values[-1] = value
        if series.done:
            return
        if value < series.threshold:  # not far above start and minimum
            series.run = 0
            if value < series.minimum:
                if math.isnan(series.start):
                    series.start = value  # the loss of the initial weights, before any update
                series.minimum = value
                series.threshold = _FACTOR * max(series.start, value, _SMALLEST_START)
            return
        series.run += 1
        series.peak_ratio = max(series.peak_ratio, value / max(series.minimum, 1e-30))
        if series.run == 1:
            series.location = user_location()
            series.lr = ", ".join(f"{float(g['lr']):.4g}" for g in optimizer.param_groups)
        if series.run == _SUSTAIN:
            step = series.steps - _SUSTAIN + 1
            self._found.append((id(optimizer), series, step, type(optimizer).__name__))
            series.done = True

    def finish(self) -> None:
        for key, series, step, name in self._found:
            entry = self._series.get(key)
            last = series.last
            if entry is None or not math.isfinite(last):
                continue
            # Where the loss stands over its last steps (one spike at the end is not a level).
            level = statistics.median(series.recent) if series.recent else last
            if level < _RECOVERED * max(series.start, _SMALLEST_START):
                continue  # it came back down: a spike, not a divergence
            ratio = series.peak_ratio
            optimizer = f"{name} (lr={series.lr})"
            self.emit(
                "loss-diverging",
                key=("loss-diverging", key),
                location=series.location,
                message=MESSAGE.format(
                    optimizer=optimizer,
                    start=_fmt(series.start),
                    minimum=_fmt(series.minimum),
                    step=step,
                    ratio=_fmt(ratio),
                    sustained=_SUSTAIN,
                    last=_fmt(last),
                ),
                fix=FIX.format(lrs=f"lr={series.lr}"),
                evidence={
                    "optimizer": optimizer,
                    "loss at the first step": _fmt(series.start),
                    "lowest loss": _fmt(series.minimum),
                    "diverging from step": f"#{step}",
                    "latest loss": _fmt(last),
                    "learning rate at that step": series.lr,
                },
                series={"training loss at each step": series.values},
            )


def _fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else str(v)
