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
never have that shape. With n the steps a scheduler took, the horizon is outrun when:

    StepLR                      4 decays or more, down to 1/1000 of the start or below
    MultiStepLR                 every milestone passed in the first half, 10x decay or more
    ExponentialLR               below 1/1000 of the start by step n/2
    LambdaLR, MultiplicativeLR  the learning rates seen below 1/1000 of the start by n/2
    CosineAnnealingLR           n >= 1.5 * T_max (the cosine climbs back up)
    CosineAnnealingWarmRestarts 20 restarts or more
    PolynomialLR                total_iters <= n/2 (at its final value for half the run)

When epochs are visible (a DataLoader iterated again: its first pass took B optimizer steps,
B >= 2), an epoch-style schedule stepped about once per optimizer step is judged against the
loop's own structure, sooner:

    StepLR, MultiStepLR,        the learning rate fell 10x or more within the first two
    ExponentialLR               epochs (2B steps)
    CosineAnnealingLR           T_max no larger than the number of epochs run, and reached

A schedule meant per batch has its horizon in batches (step_size=1000, T_max=epochs*B), so
it neither falls 10x within two epochs nor has a T_max as small as the epoch count.

The parts of a SequentialLR or ChainedScheduler are judged each on its own steps. Training
with one batch per epoch (full-batch training) steps the optimizer once per epoch, so stepping
the scheduler with it is correct: when the losses of nearly every optimizer step saw the very
same target tensor (the whole data set, not a batch), nothing is reported. That costs a few
weak-reference comparisons per loss call.
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
from ._clock import OptimizerSteps

_SERIES_CAP = 256  # learning rates kept per scheduler (evenly thinned beyond that)
_COLLAPSE = 1e-3  # a learning rate below this fraction of its start has collapsed
_RESTARTS = 20  # warm restarts within one run that betray a per-batch T_0
_FULL_BATCH = 0.9  # share of the optimizer steps whose loss saw one and the same target tensor
_TARGETS_KEPT = 4  # target tensors followed at once (training and validation sets, ...)
_EPOCH_DROP = 0.1  # with epochs visible: a fall to this fraction within two epochs
_LOADERS_KEPT = 8  # DataLoaders followed at once

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
    "steps after its first step), but its schedule {horizon}: {consequence}. Such schedules "
    "are written in epochs and stepped once per epoch; stepped every batch, they play out "
    "within the first epochs."
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
    """What one scheduler did during the watch, kept so that it can be judged at the end even
    when the training function returned and the scheduler is gone."""

    __slots__ = (
        "calls",
        "counter",
        "epochs",
        "first_epoch",
        "kind",
        "location",
        "lr0",
        "lrs",
        "ref",
        "reported",
        "serial",
        "spec",
        "steps_at_first",
        "verdict",
    )

    def __init__(self, scheduler: Any, serial: int, counter: OptimizerSteps) -> None:
        self.ref = weakref.ref(scheduler)
        self.kind = type(scheduler)
        self.serial = serial
        self.counter = counter
        self.calls = 0
        self.steps_at_first = counter.steps
        self.first_epoch = getattr(scheduler, "last_epoch", 0)
        self.epochs: list[int] = _epochs(scheduler)  # last_epoch of it (or its parts) now
        self.spec = _spec(scheduler)
        self.location: Location | None = None
        self.lr0 = _lr(scheduler)
        self.lrs = _Series()
        self.verdict: str | None = None  # "now" or "pending" at the first step
        self.reported = False


class _Loader:
    """One DataLoader's passes, and the optimizer steps its first pass took."""

    __slots__ = ("at_first", "passes", "per_pass", "ref")

    def __init__(self, loader: Any, counters: list[OptimizerSteps]) -> None:
        self.ref = weakref.ref(loader)
        self.passes = 1
        # Keyed by the optimizers' step counts (kept, unlike the optimizers, to the end).
        self.at_first = {id(c): c.steps for c in counters}
        self.per_pass: dict[int, int] | None = None  # counter id -> steps in the first pass


class SchedulerChecks(Check):
    """scheduler-before-optimizer, scheduler-per-batch."""

    family = "schedulers"
    # Nothing to follow before a scheduler steps: loss targets from then on (full-batch
    # training), backward() and step() only while a verdict waits for them.
    quiet = frozenset({"on_loss", "on_backward", "on_step_pre"})

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        self._records: list[_Scheduler] = []
        self._by_id: dict[int, _Scheduler] = {}
        self._clock = watch.clock  # the optimizers' steps, and backward() calls
        self._pending: list[_Scheduler] = []
        self._serials = itertools.count(1)
        self._targets: list[list[Any]] = []  # [weakref to a loss target, times seen]
        self._loaders: dict[int, _Loader] = {}

    def on_loader_iter(self, loader: Any) -> None:
        entry = self._loaders.get(id(loader))
        if entry is not None and entry.ref() is loader:
            entry.passes += 1
            if entry.per_pass is None:
                entry.per_pass = {
                    id(c): c.steps - entry.at_first.get(id(c), 0) for c in self._counters()
                }
            return
        if len(self._loaders) >= _LOADERS_KEPT:
            gone = [k for k, e in self._loaders.items() if e.ref() is None]
            if not gone:
                return
            del self._loaders[gone[0]]
        self._loaders[id(loader)] = _Loader(loader, self._counters())

    def _epoch_shape(self, rec: _Scheduler) -> tuple[int, int] | None:
        """(optimizer steps per epoch, epochs run) from the DataLoader iterated most often, or
        None when no DataLoader was iterated again."""
        best: tuple[int, int] | None = None
        for entry in self._loaders.values():
            if entry.per_pass is None:
                continue
            per_epoch = entry.per_pass.get(id(rec.counter), 0)
            if per_epoch >= 2 and (best is None or entry.passes > best[1]):
                best = (per_epoch, entry.passes)
        return best

    def on_loss(self, name: str, input: Any, target: Any, kwargs: dict) -> None:
        if not isinstance(target, torch.Tensor):
            return
        targets = self._targets
        for entry in targets:
            if entry[0]() is target:
                entry[1] += 1
                return
        entry = [weakref.ref(target), 1]
        if len(targets) < _TARGETS_KEPT:
            targets.append(entry)
            return
        # Replace a target that is gone, else the least seen: batches come and go.
        slot = next((i for i, e in enumerate(targets) if e[0]() is None), None)
        if slot is None:
            slot = min(range(len(targets)), key=lambda i: targets[i][1])
        targets[slot] = entry

    def _full_batch(self, steps: int) -> bool:
        """Did nearly every optimizer step compute its loss against the same target tensor?"""
        return any(count >= _FULL_BATCH * steps for _, count in self._targets)

    # -- events -------------------------------------------------------------------------------
    # While a verdict waits (see the module's docstring):
    def on_backward(self, tensors: Any) -> None:
        # A new backward() before any optimizer.step(): that iteration's step was skipped.
        self._pending.clear()
        self.mute("on_backward", "on_step_pre")

    def on_step_pre(self, optimizer: Any) -> None:
        for rec in list(self._pending):
            if rec.counter.ref() is optimizer:
                self._pending.remove(rec)
                self._report_before(rec, BEFORE_SAME_ITERATION)
        if not self._pending:
            self.mute("on_backward", "on_step_pre")

    def on_scheduler_step_pre(self, scheduler: Any) -> None:
        rec = self._by_id.get(id(scheduler))
        if rec is None or rec.ref() is not scheduler:
            rec = _Scheduler(scheduler, next(self._serials), self._clock.of(scheduler.optimizer))
            rec.location = user_location()
            self._by_id[id(scheduler)] = rec
            self._records.append(rec)
            self.listen("on_loss")  # the targets of the losses from now on: full-batch training?
        rec.calls += 1
        if rec.calls == 1 and not isinstance(scheduler, sched_mod.ReduceLROnPlateau):
            optimizer = scheduler.optimizer
            if rec.counter.steps == 0 and not getattr(optimizer, "_opt_called", False):
                rec.verdict = "now" if self._clock.backwards == 0 else "pending"

    def on_scheduler_step_post(self, scheduler: Any) -> None:
        rec = self._by_id.get(id(scheduler))
        if rec is None or rec.ref() is not scheduler:
            return
        rec.lrs.add(_lr(scheduler))
        rec.epochs = _epochs(scheduler)
        if rec.verdict == "now":
            self._report_before(rec, BEFORE_NO_TRAINING)
        elif rec.verdict == "pending":
            self._pending.append(rec)
            self.listen("on_backward", "on_step_pre")
        rec.verdict = None

    def finish(self) -> None:
        for rec in self._records:
            self._judge(rec)
        self._records.clear()
        self._by_id.clear()
        self._pending.clear()

    def _counters(self) -> list[OptimizerSteps]:
        return [steps for _, steps in self._clock.optimizers()]

    # -- scheduler-before-optimizer -----------------------------------------------------------
    def _report_before(self, rec: _Scheduler, how: str) -> None:
        lr1 = rec.lrs.values[0] if rec.lrs.values else rec.lr0
        optimizer = rec.counter.ref()
        self.emit(
            "scheduler-before-optimizer",
            key=("scheduler-before-optimizer", rec.serial),
            subject=rec.ref,
            location=rec.location,
            message=BEFORE_OPTIMIZER.format(
                sched=rec.kind.__name__,
                optimizer=type(optimizer).__name__ if optimizer is not None else "optimizer",
                how=how,
                skipped=BEFORE_SKIPPED.format(lr0=_fmt(rec.lr0), lr1=_fmt(lr1))
                if lr1 != rec.lr0
                else "",
            ),
            fix=BEFORE_OPTIMIZER_FIX,
            evidence={
                "scheduler": rec.kind.__name__,
                "optimizer steps before its first step": "0",
                "first learning rate of the schedule (skipped)": _fmt(rec.lr0),
                "first learning rate used": _fmt(lr1),
            },
        )

    # -- scheduler-per-batch ------------------------------------------------------------------
    def _judge(self, rec: _Scheduler) -> None:
        """Called once, at the end of the watch: judge the whole run's stepping."""
        if rec.calls < 2 or rec.reported:
            return
        opt_steps = rec.counter.steps - rec.steps_at_first
        if opt_steps < 1 or rec.calls < 0.75 * (opt_steps + 1):
            return  # stepped less often than the optimizer: per epoch (or per few batches)
        if rec.epochs and rec.epochs[0] - rec.first_epoch < 0.5 * rec.calls:
            return  # step(epoch) with the user's own epoch values (e.g. fractional epochs)
        if self._full_batch(opt_steps):
            return  # one batch per epoch: the optimizer itself steps once per epoch
        problem = None
        for (kind, params), n in zip(rec.spec, rec.epochs[1:] or rec.epochs[:1], strict=False):
            problem = _horizon_problem(kind, params, max(n, 0), rec)
            if problem is not None:
                break
        shape = self._epoch_shape(rec) if problem is None else None
        if shape is not None and len(rec.spec) == 1:
            kind, params = rec.spec[0]
            problem = _epoch_problem(
                kind, params, max(rec.epochs[0] - rec.first_epoch, 0), rec, shape
            )
        if problem is None:
            return
        kind, label, horizon, consequence, decays = problem
        if kind is not rec.kind:
            label = f"{label} inside {rec.kind.__name__}"
        rec.reported = True
        lrs = [rec.lr0, *rec.lrs.values]
        series = {"learning rate": lrs}
        if decays:
            series["log10 learning rate"] = [math.log10(max(v, 1e-300)) for v in lrs]
        params = dict(rec.spec).get(kind, {})
        example = _EXAMPLES.get(kind.__name__, _DEFAULT_EXAMPLE)
        self.emit(
            "scheduler-per-batch",
            key=("scheduler-per-batch", rec.serial),
            subject=rec.ref,
            location=rec.location,
            message=PER_BATCH.format(
                sched=label,
                calls=rec.calls,
                steps=opt_steps,
                horizon=horizon,
                consequence=consequence,
            ),
            fix=PER_BATCH_FIX.format(example=example.format(**_example_params(params))),
            evidence={
                "scheduler": label,
                "scheduler steps": str(rec.calls),
                "optimizer steps after its first step": str(opt_steps),
                "optimizer steps per scheduler step": f"{opt_steps / max(rec.calls - 1, 1):.2g}",
                "learning rate": f"{_fmt(rec.lr0)} at the start, {_fmt(lrs[-1])} at the end",
            },
            series=series,
        )


# -- horizons -------------------------------------------------------------------------------
def _parts(scheduler: Any) -> list[Any]:
    """The schedulers that SequentialLR / ChainedScheduler drive, else the scheduler itself."""
    if isinstance(scheduler, (sched_mod.SequentialLR, sched_mod.ChainedScheduler)):
        return list(getattr(scheduler, "_schedulers", ()))
    return [scheduler]


def _epochs(scheduler: Any) -> list[int]:
    """The scheduler's last_epoch, then its parts' (each counts the steps it took)."""
    own = int(getattr(scheduler, "last_epoch", 0))
    parts = _parts(scheduler)
    if parts == [scheduler]:
        return [own]
    return [own, *(int(getattr(p, "last_epoch", 0)) for p in parts)]


def _spec(scheduler: Any) -> list[tuple[type, dict[str, Any]]]:
    """The horizon parameters of the scheduler (or its parts), read once at its first step."""
    out = []
    for part in _parts(scheduler):
        params: dict[str, Any] = {}
        for name in ("step_size", "gamma", "T_max", "T_0", "T_mult", "total_iters", "power"):
            if hasattr(part, name):
                params[name] = getattr(part, name)
        if isinstance(part, sched_mod.MultiStepLR):
            params["milestones"] = sorted(part.milestones.elements())
        out.append((type(part), params))
    return out


def _horizon_problem(
    kind: type, p: dict[str, Any], n: int, rec: _Scheduler
) -> tuple[type, str, str, str, bool] | None:
    """(kind, label, horizon, consequence, decays) when a scheduler of ``kind`` with
    parameters ``p`` outran its horizon in ``n`` steps; ``decays``: the learning rate
    collapsed, best seen on a log scale."""
    name = kind.__name__
    if issubclass(kind, sched_mod.StepLR):
        size, gamma = p["step_size"], p["gamma"]
        decays = n // size
        if gamma < 1 and decays >= 4 and gamma**decays <= _COLLAPSE:
            return (
                kind,
                f"{name}(step_size={size}, gamma={gamma:g})",
                f"decays every {size} steps",
                f"the learning rate was multiplied by {gamma:g} {decays} times, down to "
                f"{gamma**decays:.1e} of its initial value",
                True,
            )
    elif issubclass(kind, sched_mod.MultiStepLR):
        milestones, gamma = p["milestones"], p["gamma"]
        factor = gamma ** len(milestones)
        if milestones and factor <= 0.1 and milestones[-1] <= n / 2:
            return (
                kind,
                f"{name}(milestones={milestones}, gamma={gamma:g})",
                f"ends at step {milestones[-1]}",
                f"every milestone had passed by step {milestones[-1]} of {n}, so the learning "
                f"rate sat at {factor:.1e} of its initial value for most of the run",
                True,
            )
    elif issubclass(kind, sched_mod.ExponentialLR):
        gamma = p["gamma"]
        if gamma < 1 and gamma ** (n / 2) <= _COLLAPSE:
            within = math.ceil(math.log(_COLLAPSE) / math.log(gamma))
            return (
                kind,
                f"{name}(gamma={gamma:g})",
                f"divides the learning rate by 1000 within {within} steps",
                f"multiplied by {gamma:g} at each of {n} steps, the learning rate fell to "
                f"{gamma**n:.1e} of its initial value",
                True,
            )
    elif issubclass(kind, sched_mod.CosineAnnealingLR):
        t_max = p["T_max"]
        if n >= 1.5 * t_max:
            return (
                kind,
                f"{name}(T_max={t_max})",
                f"lasts T_max={t_max} steps",
                f"over {n} steps the cosine went down and back up {n / (2 * t_max):.1f} times "
                "instead of decaying once",
                False,
            )
    elif issubclass(kind, sched_mod.CosineAnnealingWarmRestarts):
        restarts = _restarts(p["T_0"], p["T_mult"], n)
        if restarts >= _RESTARTS:
            return (
                kind,
                f"{name}(T_0={p['T_0']}, T_mult={p['T_mult']})",
                f"restarts after T_0={p['T_0']} steps",
                f"the learning rate restarted {restarts} times within {n} steps",
                False,
            )
    elif issubclass(kind, sched_mod.PolynomialLR):
        total = p["total_iters"]
        if p["power"] > 0 and n >= 2 * total:
            return (
                kind,
                f"{name}(total_iters={total})",
                f"ends after total_iters={total} steps",
                f"the learning rate reached its final value at step {total} and stayed there "
                f"for the other {n - total} steps",
                True,
            )
    elif issubclass(kind, (sched_mod.LambdaLR, sched_mod.MultiplicativeLR)) and kind is rec.kind:
        # Only the run's own learning rates tell what a lambda does.
        mid = rec.lrs.at(rec.lrs.count // 2) if rec.lrs.count else rec.lr0
        if rec.lrs.count >= 8 and rec.lr0 > 0 and mid <= _COLLAPSE * rec.lr0:
            return (
                kind,
                name,
                "falls below 1/1000 of its initial learning rate within the first half of the run",
                f"the learning rate fell from {_fmt(rec.lr0)} to {_fmt(mid)} by step "
                f"{rec.lrs.count // 2} of {rec.lrs.count}",
                True,
            )
    return None


def _epoch_problem(
    kind: type, p: dict[str, Any], n: int, rec: _Scheduler, shape: tuple[int, int]
) -> tuple[type, str, str, str, bool] | None:
    """Like ``_horizon_problem``, for a run whose epochs are visible: ``shape`` is (optimizer
    steps per epoch, epochs run), and ``n`` the scheduler's own steps."""
    per_epoch, epochs = shape
    name = kind.__name__
    if issubclass(kind, (sched_mod.StepLR, sched_mod.MultiStepLR, sched_mod.ExponentialLR)):
        within = min(2 * per_epoch, rec.lrs.count)
        if within < 2 or rec.lr0 <= 0:
            return None
        lr = min(rec.lrs.at(i) for i in range(within))
        if lr > _EPOCH_DROP * rec.lr0:
            return None
        params = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in p.items()
            if k in ("step_size", "milestones", "gamma")
        )
        return (
            kind,
            f"{name}({params})",
            f"is written in epochs, and the loop runs {per_epoch} optimizer steps per epoch "
            f"(its DataLoader was iterated {epochs} times)",
            f"within the first two epochs ({within} steps) the learning rate already fell to "
            f"{_fmt(lr)}, {lr / rec.lr0:.1e} of its initial {_fmt(rec.lr0)}",
            True,
        )
    if issubclass(kind, sched_mod.CosineAnnealingLR):
        t_max = p["T_max"]
        if t_max <= epochs and n >= t_max:
            return (
                kind,
                f"{name}(T_max={t_max})",
                f"lasts T_max={t_max}, no more than the {epochs} epochs run ({per_epoch} "
                f"optimizer steps each)",
                f"stepped every batch, the cosine reached its minimum after {t_max} batches, "
                f"within epoch {t_max // per_epoch + 1}, and cycled from there",
                False,
            )
    return None


def _example_params(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "p": params.get("step_size", params.get("milestones", params.get("T_0", ""))),
        "g": f"{params['gamma']:g}" if "gamma" in params else "",
    }


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
