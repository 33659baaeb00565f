"""The watch only observes: over generated models, optimizers, schedulers, dtypes and loop
shapes, a watched run ends bit-identical to a plain one, leaves no hook or patch behind and
raises no internal warning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.optim import lr_scheduler
from torch.optim import optimizer as optim_mod

import diagnostics

OPTIMIZERS = ("sgd", "sgd-momentum", "adam", "adamw", "rmsprop")
SCHEDULERS = (None, "step", "cosine", "exponential", "onecycle")
DTYPES = (torch.float32, torch.float64, torch.bfloat16)
LOSSES = ("mse", "l1", "smooth_l1", "cross_entropy")


@dataclass(frozen=True)
class Run:
    """One generated training run."""

    hidden: tuple[int, ...]
    dropout: float
    batch_norm: bool
    optimizer: str
    scheduler: str | None
    dtype: torch.dtype
    loss: str
    steps: int
    accumulate: int  # batches per optimizer step
    set_to_none: bool
    evaluate_every: int  # 0: never
    seed: int


runs = st.builds(
    Run,
    hidden=st.lists(st.integers(2, 8), min_size=0, max_size=2).map(tuple),
    dropout=st.sampled_from((0.0, 0.3)),
    batch_norm=st.booleans(),
    optimizer=st.sampled_from(OPTIMIZERS),
    scheduler=st.sampled_from(SCHEDULERS),
    dtype=st.sampled_from(DTYPES),
    loss=st.sampled_from(LOSSES),
    steps=st.integers(1, 5),
    accumulate=st.integers(1, 2),
    set_to_none=st.booleans(),
    evaluate_every=st.integers(0, 3),
    seed=st.integers(0, 2**16),
)


def build(run: Run) -> nn.Module:
    layers: list[nn.Module] = []
    width = 3
    for h in run.hidden:
        layers.append(nn.Linear(width, h))
        if run.batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(nn.ReLU())
        if run.dropout:
            layers.append(nn.Dropout(run.dropout))
        width = h
    layers.append(nn.Linear(width, 3 if run.loss == "cross_entropy" else 1))
    return nn.Sequential(*layers).to(run.dtype)


def make_optimizer(run: Run, model: nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    return {
        "sgd": lambda: torch.optim.SGD(params, lr=0.05),
        "sgd-momentum": lambda: torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
        "adam": lambda: torch.optim.Adam(params, lr=1e-2),
        "adamw": lambda: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=1e-2),
    }[run.optimizer]()


def make_scheduler(run: Run, opt: torch.optim.Optimizer) -> Any:
    if run.scheduler is None:
        return None
    return {
        "step": lambda: lr_scheduler.StepLR(opt, step_size=2),
        "cosine": lambda: lr_scheduler.CosineAnnealingLR(opt, T_max=run.steps),
        "exponential": lambda: lr_scheduler.ExponentialLR(opt, gamma=0.9),
        "onecycle": lambda: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=run.steps),
    }[run.scheduler]()


def loss_of(run: Run, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if run.loss == "cross_entropy":
        return F.cross_entropy(out, (x.sum(1) > 0).long() + (x[:, 0] > 1).long())
    target = x.sum(1, keepdim=True)
    return {"mse": F.mse_loss, "l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss}[run.loss](
        out, target
    )


def train(run: Run) -> tuple[dict[str, torch.Tensor], torch.Tensor, nn.Module]:
    """Run the generated loop from its seed; return the parameters, the RNG state, the model."""
    torch.manual_seed(run.seed)
    model = build(run)
    opt = make_optimizer(run, model)
    sched = make_scheduler(run, opt)
    for step in range(run.steps):
        opt.zero_grad(set_to_none=run.set_to_none)
        for _ in range(run.accumulate):
            x = torch.randn(8, 3, dtype=run.dtype)
            (loss_of(run, model(x), x) / run.accumulate).backward()
        opt.step()
        if sched is not None:
            sched.step()
        if run.evaluate_every and step % run.evaluate_every == 0:
            model.eval()
            with torch.no_grad():
                model(torch.randn(4, 3, dtype=run.dtype))
            model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for i, s in enumerate(opt.state_dict()["state"].values()):
        for k, v in s.items():
            if isinstance(v, torch.Tensor):
                state[f"opt.{i}.{k}"] = v.clone()
    return state, torch.get_rng_state(), model


def engine_surface() -> dict[str, Any]:
    """Everything the engine patches or hooks, as it is now."""
    names: dict[str, Any] = {
        "Module.__call__": nn.Module.__dict__["__call__"],
        "Module.state_dict": nn.Module.__dict__["state_dict"],
        "Module.load_state_dict": nn.Module.__dict__["load_state_dict"],
        "autograd.backward": torch.autograd.backward,
        "torch.save": torch.save,
        "optimizer pre hooks": len(optim_mod._global_optimizer_pre_hooks),
        "optimizer post hooks": len(optim_mod._global_optimizer_post_hooks),
    }
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "cross_entropy", "dropout", "batch_norm"):
        names[f"F.{name}"] = getattr(F, name)
    for cls in (lr_scheduler.LRScheduler, lr_scheduler.OneCycleLR, lr_scheduler.StepLR):
        names[f"{cls.__name__}.step"] = cls.__dict__.get("step")
    return names


def hooks_on(model: nn.Module) -> int:
    return sum(
        len(p._backward_hooks or {}) + len(p._post_accumulate_grad_hooks or {})
        for p in model.parameters()
    )


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(run=runs)
def test_a_watched_run_ends_bit_identical_and_leaves_nothing_behind(run):
    before = engine_surface()
    plain, plain_rng, _ = train(run)
    with diagnostics.watch() as report:
        watched, watched_rng, model = train(run)
    assert engine_surface() == before
    assert hooks_on(model) == 0
    assert report.internal_warnings == []
    assert plain.keys() == watched.keys()
    for key in plain:
        assert torch.equal(plain[key], watched[key]), key
    assert torch.equal(plain_rng, watched_rng)
