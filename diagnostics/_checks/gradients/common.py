"""Helpers the rules of the gradients family share: norms, names, the parameters of a graph."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._params import OptimizerState

WALK_LIMIT = 100_000  # autograd nodes visited at most per walk of a graph


def grad_norm(params: Any) -> float:
    """The total 2-norm of the gradients (read only; one scalar)."""
    total = 0.0
    with torch.no_grad():
        for p in params:
            g = p.grad
            if g is None or g.is_sparse:
                continue
            total += float(torch.linalg.vector_norm(g.detach().float())) ** 2
    return math.sqrt(total)


def graph_parameters(tensors: list[torch.Tensor]) -> list[nn.Parameter]:
    """The nn.Parameters a backward() from ``tensors`` will write gradients into."""
    stack = [t.grad_fn for t in tensors if t.grad_fn is not None]
    seen: set[Any] = set()
    out = []
    while stack and len(seen) < WALK_LIMIT:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        var = getattr(fn, "variable", None)  # AccumulateGrad nodes hold the leaf
        if var is not None:
            if isinstance(var, nn.Parameter):
                out.append(var)
            continue
        for nxt, _ in fn.next_functions:
            if nxt is not None and nxt not in seen:
                stack.append(nxt)
    return out


def owning_modules(modules: list[nn.Module]) -> dict[int, nn.Module]:
    """Parameter id -> the module that registers it directly."""
    return {id(p): m for m in modules for p in m._parameters.values() if p is not None}


def qualified_names(modules: list[nn.Module]) -> dict[int, str]:
    """Module id -> 'path (Class)' in the largest of ``modules`` that contains it."""
    out: dict[int, str] = {}
    for root in modules:
        for path, sub in root.named_modules():
            label = f"{path} ({type(sub).__name__})" if path else type(sub).__name__
            if len(label) >= len(out.get(id(sub), "")):
                out[id(sub)] = label
    return out


def parameter_names(modules: list[nn.Module]) -> dict[int, str]:
    """Parameter id -> its longest dotted name among ``modules`` ('Linear.weight' for one
    that only its own module holds), in the order of the largest module's parameters."""
    out: dict[int, str] = {}
    for root in sorted(modules, key=lambda m: -sum(1 for _ in m.modules())):
        for name, p in root.named_parameters():
            if "." not in name:
                name = f"{type(root).__name__}.{name}"
            if id(p) not in out or out[id(p)].count(".") < name.count("."):
                out[id(p)] = name
    return out


def outermost(modules: list[nn.Module]) -> nn.Module:
    return max(modules, key=lambda m: sum(1 for _ in m.modules()))


def learning_rates(states: list[OptimizerState]) -> str:
    parts = []
    for state in states:
        opt = state.optimizer
        if opt is None:
            continue
        lrs = ", ".join(fmt(float(g["lr"])) for g in opt.param_groups)
        parts.append(f"{type(opt).__name__} lr={lrs}")
    return "; ".join(parts)


def describe(state: OptimizerState) -> str:
    opt = state.optimizer
    if opt is None:
        return "the optimizer"
    lrs = ", ".join(fmt(float(g["lr"])) for g in opt.param_groups)
    return f"{type(opt).__name__} (lr={lrs})"


def finite(t: torch.Tensor) -> bool:
    return not t.is_floating_point() or bool(torch.isfinite(t).all())


def shape_text(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else str(v)
