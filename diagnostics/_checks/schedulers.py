"""Checks of the 'schedulers' family: when and how often ``lr_scheduler.step()`` runs.

scheduler-before-optimizer  the scheduler's first step() came before its optimizer's first
                            step(), so the schedule's first learning rate was skipped
scheduler-per-batch         a schedule written in epochs (StepLR, MultiStepLR, ExponentialLR,
                            CosineAnnealingLR, ...) stepped at every optimizer step, so its
                            horizon is spent within the first epochs

A step that ``GradScaler`` skips (inf/NaN gradients) never calls ``optimizer.step()``, and a
scheduler stepped after it is no fault, although torch warns there. So when gradients were
already computed, the verdict waits for what comes next: the optimizer stepping before the
next backward() means its step came after the scheduler's (the fault); another backward()
first means that iteration's step was skipped.

Per-batch stepping is judged from counts only: the scheduler stepped about as often as its
optimizer, and its horizon (step_size, milestones, T_max, ...) is short next to the number
of steps it took, so the learning rate collapsed or the cosine cycled. Schedules meant per
batch (OneCycleLR, CyclicLR, LinearLR/ConstantLR warm-up, a cosine over all the batches)
never have that shape.
"""

from __future__ import annotations

import itertools
import math
import weakref
from typing import Any

import torch
from torch.optim import lr_scheduler as sched_mod

from .._findings import Location
from .._location import user_location
from ._base import Check

_SERIES_CAP = 256  # learning rates kept per scheduler (evenly thinned beyond that)
_COLLAPSE = 1e-3  # a learning rate below this fraction of its start has collapsed
_RESTARTS = 20  # warm restarts within one run that betray a per-batch T_0

BEFORE_OPTIMIZER = (
    "{sched}.step() ran before {optimizer}.step() had run even once{how}. The scheduler must "
    "step after the optimizer: stepping it first skips the first value of the schedule, so "
    "every change of the learning rate comes one step early{skipped}."
)
BEFORE_SKIPPED = "; the learning rate {lr0} was never used and training started at {lr1}"
BEFORE_NO_TRAINING = " (no training step had happened yet)"
BEFORE_SAME_ITERATION = ": in that iteration optimizer.step() came after scheduler.step()"
BEFORE_OPTIMIZER_FIX = (
    "Call scheduler.step() after optimizer.step(): per batch right after optimizer.step() "
    "for per-batch schedules, or once per epoch after the batch loop for epoch schedules."
)
PER_BATCH = (
    "{sched} was stepped {calls} times, about once per optimizer step ({steps} optimizer "
    "steps), but its schedule {horizon}: {consequence}. Such schedules are written in epochs "
    "and stepped once per epoch; stepped every batch, they play out within the first epochs."
)
PER_BATCH_FIX = (
    "Call scheduler.step() once per epoch, after the batch loop, or write the schedule in "
    "batches: e.g. {example}."
)
_EXAMPLES = {
    "StepLR": "StepLR(optimizer, step_size={p} * len(train_loader), gamma={g})",
    "MultiStepLR": "MultiStepLR(optimizer, milestones=[m * len(train_loader) for m in {p}])",
    "ExponentialLR": "ExponentialLR(optimizer, gamma={g} ** (1 / len(train_loader)))",
    "CosineAnnealingLR": "CosineAnnealingLR(optimizer, T_max=epochs * len(train_loader))",
    "CosineAnnealingWarmRestarts": (
        "CosineAnnealingWarmRestarts(optimizer, T_0={p} * len(train_loader))"
    ),
    "PolynomialLR": "PolynomialLR(optimizer, total_iters=epochs * len(train_loader))",
}
_DEFAULT_EXAMPLE = "CosineAnnealingLR(optimizer, T_max=epochs * len(train_loader))"


class _Series:
    """A run's learning rates, thinned evenly to at most ``_SERIES_CAP`` values."""

    __slots__ = ("count", "stride", "values")

    def __init__(self) -> None:
        self.values: list[float] = []
        self.stride = 1
        self.count = 0

    def add(self, value: float) -> None:
        if self.count % self.stride == 0:
            self.values.append(value)
            if len(self.values) >= _SERIES_CAP:
                self.values = self.values[::2]
                self.stride *= 2
        self.count += 1

    def at(self, index: int) -> float:
        return self.values[min(index // self.stride, len(self.values) - 1)]


class _Scheduler:
    """What one scheduler did during the watch."""

    __slots__ = (
        "calls",
        "first_epoch",
        "location",
        "lr0",
        "lrs",
        "pending",
        "ref",
        "reported",
        "serial",
        "steps_at_first",
        "verdict",
    )

    def __init__(self, scheduler: Any, serial: int, steps: int) -> None:
        self.ref = weakref.ref(scheduler)
        self.serial = serial
        self.calls = 0
        self.steps_at_first = steps
        self.first_epoch = getattr(scheduler, "last_epoch", 0)
        self.location: Location | None = None
        self.lr0 = _lr(scheduler)
        self.lrs = _Series()
        self.pending = False  # the before-optimizer verdict waits for the next event
        self.verdict: str | None = None  # "now" or "pending" at the first step
        self.reported = False


class SchedulerChecks(Check):
    """scheduler-before-optimizer, scheduler-per-batch."""

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        self._schedulers: dict[int, _Scheduler] = {}
        self._steps: dict[int, tuple[weakref.ref[Any], int]] = {}
        self._backwards = 0
        self._pending: list[_Scheduler] = []
        self._serials = itertools.count(1)

    # -- events -------------------------------------------------------------------------------
    def on_backward(self, tensors: Any) -> None:
        self._backwards += 1
        if self._pending:  # a new backward() before any optimizer.step(): that step was skipped
            for rec in self._pending:
                rec.pending = False
            self._pending.clear()

    def on_step_pre(self, optimizer: Any) -> None:
        if not self._pending:
            return
        for rec in list(self._pending):
            scheduler = rec.ref()
            if scheduler is not None and scheduler.optimizer is optimizer:
                self._pending.remove(rec)
                rec.pending = False
                self._report_before(rec, scheduler, BEFORE_SAME_ITERATION)

    def on_step_post(self, optimizer: Any) -> None:
        entry = self._steps.get(id(optimizer))
        if entry is None or entry[0]() is not optimizer:
            self._steps[id(optimizer)] = (weakref.ref(optimizer), 1)
        else:
            self._steps[id(optimizer)] = (entry[0], entry[1] + 1)

    def on_scheduler_step_pre(self, scheduler: Any) -> None:
        rec = self._schedulers.get(id(scheduler))
        if rec is None or rec.ref() is not scheduler:
            rec = _Scheduler(scheduler, next(self._serials), self._steps_of(scheduler.optimizer))
            rec.location = user_location()
            self._schedulers[id(scheduler)] = rec
        rec.calls += 1
        if rec.calls == 1 and not isinstance(scheduler, sched_mod.ReduceLROnPlateau):
            optimizer = scheduler.optimizer
            if self._steps_of(optimizer) == 0 and not getattr(optimizer, "_opt_called", False):
                rec.verdict = "now" if self._backwards == 0 else "pending"

    def on_scheduler_step_post(self, scheduler: Any) -> None:
        rec = self._schedulers.get(id(scheduler))
        if rec is None or rec.ref() is not scheduler:
            return
        rec.lrs.add(_lr(scheduler))
        if rec.verdict == "now":
            self._report_before(rec, scheduler, BEFORE_NO_TRAINING)
        elif rec.verdict == "pending":
            rec.pending = True
            self._pending.append(rec)
        rec.verdict = None

    def finish(self) -> None:
        for rec in self._schedulers.values():
            scheduler = rec.ref()
            if scheduler is not None:
                self._judge(rec, scheduler)
        self._schedulers.clear()
        self._steps.clear()
        self._pending.clear()

    # -- scheduler-before-optimizer -----------------------------------------------------------
    def _report_before(self, rec: _Scheduler, scheduler: Any, how: str) -> None:
        optimizer = scheduler.optimizer
        lr1 = rec.lrs.values[0] if rec.lrs.values else _lr(scheduler)
        self.emit(
            "scheduler-before-optimizer",
            key=("scheduler-before-optimizer", rec.serial),
            subject=scheduler,
            location=rec.location,
            message=BEFORE_OPTIMIZER.format(
                sched=type(scheduler).__name__,
                optimizer=type(optimizer).__name__,
                how=how,
                skipped=BEFORE_SKIPPED.format(lr0=_fmt(rec.lr0), lr1=_fmt(lr1))
                if lr1 != rec.lr0
                else "",
            ),
            fix=BEFORE_OPTIMIZER_FIX,
            evidence={
                "scheduler": type(scheduler).__name__,
                "optimizer steps before its first step": "0",
                "first learning rate of the schedule (skipped)": _fmt(rec.lr0),
                "first learning rate used": _fmt(lr1),
            },
        )

    # -- scheduler-per-batch ------------------------------------------------------------------
    def _judge(self, rec: _Scheduler, scheduler: Any) -> None:
        """Called once, at the end of the watch: judge the whole run's stepping."""
        if rec.calls < 2:
            return
        opt_steps = self._steps_of(scheduler.optimizer) - rec.steps_at_first
        if opt_steps < 1 or rec.calls < 0.75 * (opt_steps + 1):
            return  # stepped less often than the optimizer: per epoch (or per few batches)
        advanced = getattr(scheduler, "last_epoch", rec.calls) - rec.first_epoch
        if advanced < 0.5 * rec.calls:
            return  # step(epoch) with the user's own epoch values (e.g. fractional epochs)
        problem = _horizon_problem(scheduler, rec)
        if problem is None:
            return
        inner, label, horizon, consequence, decays = problem
        if inner is not scheduler:
            label = f"{label} inside {type(scheduler).__name__}"
        lrs = [rec.lr0, *rec.lrs.values]
        series = {"learning rate": lrs}
        if decays:
            series["log10 learning rate"] = [math.log10(max(v, 1e-300)) for v in lrs]
        example = _EXAMPLES.get(type(inner).__name__, _DEFAULT_EXAMPLE)
        self.emit(
            "scheduler-per-batch",
            key=("scheduler-per-batch", rec.serial),
            subject=scheduler,
            location=rec.location,
            message=PER_BATCH.format(
                sched=label,
                calls=rec.calls,
                steps=opt_steps,
                horizon=horizon,
                consequence=consequence,
            ),
            fix=PER_BATCH_FIX.format(example=example.format(**_horizon_params(inner))),
            evidence={
                "scheduler": label,
                "scheduler steps": str(rec.calls),
                "optimizer steps": str(opt_steps),
                "optimizer steps per scheduler step": f"{opt_steps / max(rec.calls - 1, 1):.2g}",
                "learning rate": f"{_fmt(rec.lr0)} at the start, {_fmt(_lr(scheduler))} at the end",
            },
            series=series,
        )

    def _steps_of(self, optimizer: Any) -> int:
        entry = self._steps.get(id(optimizer))
        return entry[1] if entry is not None and entry[0]() is optimizer else 0


# -- horizons -------------------------------------------------------------------------------
def _horizon_problem(
    scheduler: Any, rec: _Scheduler | None
) -> tuple[Any, str, str, str, bool] | None:
    """(scheduler, label, horizon, consequence, decays) when ``scheduler`` (or one it chains)
    outran its horizon; ``decays``: the problem is a collapse, best seen on a log scale."""
    if isinstance(scheduler, (sched_mod.SequentialLR, sched_mod.ChainedScheduler)):
        for sub in getattr(scheduler, "_schedulers", ()):
            found = _horizon_problem(sub, None)
            if found is not None:
                return found
        return None
    n = max(int(getattr(scheduler, "last_epoch", 0)), 0)
    cls = type(scheduler).__name__
    if isinstance(scheduler, sched_mod.StepLR):
        size, gamma = scheduler.step_size, scheduler.gamma
        decays = n // size
        if gamma < 1 and decays >= 4 and gamma**decays <= _COLLAPSE:
            return (
                scheduler,
                f"{cls}(step_size={size}, gamma={gamma:g})",
                f"decays every {size} steps",
                f"the learning rate was multiplied by {gamma:g} {decays} times, down to "
                f"{gamma**decays:.1e} of its initial value",
                True,
            )
    elif isinstance(scheduler, sched_mod.MultiStepLR):
        milestones = sorted(scheduler.milestones.elements())
        factor = scheduler.gamma ** len(milestones)
        if milestones and factor <= 0.1 and milestones[-1] <= n / 2:
            return (
                scheduler,
                f"{cls}(milestones={milestones}, gamma={scheduler.gamma:g})",
                f"ends at step {milestones[-1]}",
                f"every milestone had passed by step {milestones[-1]} of {n}, so the learning "
                f"rate sat at {factor:.1e} of its initial value for most of the run",
                True,
            )
    elif isinstance(scheduler, sched_mod.ExponentialLR):
        gamma = scheduler.gamma
        if gamma < 1 and gamma ** (n / 2) <= _COLLAPSE:
            within = math.ceil(math.log(_COLLAPSE) / math.log(gamma))
            return (
                scheduler,
                f"{cls}(gamma={gamma:g})",
                f"divides the learning rate by 1000 within {within} steps",
                f"multiplied by {gamma:g} at each of {n} steps, the learning rate fell to "
                f"{gamma**n:.1e} of its initial value",
                True,
            )
    elif isinstance(scheduler, sched_mod.CosineAnnealingLR):
        t_max = scheduler.T_max
        if n >= 1.5 * t_max:
            return (
                scheduler,
                f"{cls}(T_max={t_max})",
                f"lasts T_max={t_max} steps",
                f"over {n} steps the cosine went down and back up {n / (2 * t_max):.1f} times "
                "instead of decaying once",
                False,
            )
    elif isinstance(scheduler, sched_mod.CosineAnnealingWarmRestarts):
        restarts = _restarts(scheduler.T_0, scheduler.T_mult, n)
        if restarts >= _RESTARTS:
            return (
                scheduler,
                f"{cls}(T_0={scheduler.T_0}, T_mult={scheduler.T_mult})",
                f"restarts after T_0={scheduler.T_0} steps",
                f"the learning rate restarted {restarts} times within {n} steps",
                False,
            )
    elif isinstance(scheduler, sched_mod.PolynomialLR):
        total = scheduler.total_iters
        if scheduler.power > 0 and n >= 2 * total:
            return (
                scheduler,
                f"{cls}(total_iters={total})",
                f"ends after total_iters={total} steps",
                f"the learning rate reached its final value at step {total} and stayed there "
                f"for the other {n - total} steps",
                True,
            )
    elif isinstance(scheduler, (sched_mod.LambdaLR, sched_mod.MultiplicativeLR)) and rec:
        mid = rec.lrs.at(rec.lrs.count // 2) if rec.lrs.count else rec.lr0
        if rec.lrs.count >= 8 and rec.lr0 > 0 and mid <= _COLLAPSE * rec.lr0:
            return (
                scheduler,
                cls,
                "falls below 1/1000 of its initial learning rate within the first half of the run",
                f"the learning rate fell from {_fmt(rec.lr0)} to {_fmt(mid)} by step "
                f"{rec.lrs.count // 2} of {rec.lrs.count}",
                True,
            )
    return None


def _horizon_params(scheduler: Any) -> dict[str, Any]:
    if isinstance(scheduler, sched_mod.StepLR):
        return {"p": scheduler.step_size, "g": f"{scheduler.gamma:g}"}
    if isinstance(scheduler, sched_mod.MultiStepLR):
        return {"p": sorted(scheduler.milestones.elements()), "g": f"{scheduler.gamma:g}"}
    if isinstance(scheduler, sched_mod.ExponentialLR):
        return {"p": "", "g": f"{scheduler.gamma:g}"}
    if isinstance(scheduler, sched_mod.CosineAnnealingWarmRestarts):
        return {"p": scheduler.T_0, "g": ""}
    return {"p": "", "g": ""}


def _restarts(t0: int, t_mult: int, n: int) -> int:
    count, done, length = 0, 0, t0
    while done + length <= n and count < 10_000:
        done += length
        count += 1
        length *= t_mult
    return count


def _lr(scheduler: Any) -> float:
    lr = scheduler.optimizer.param_groups[0]["lr"]
    return float(lr.item() if isinstance(lr, torch.Tensor) else lr)


def _fmt(v: float) -> str:
    return f"{v:.4g}"
