"""The engine's module calls: under a watch a module is called exactly as torch calls it.

The engine's ``Module.__call__`` picks the compiled or the plain implementation itself, as
torch's does (one Python frame less on every call). Calls made without gradients reach no
per-call handler: a forward under no_grad is noted once, as a whole, and is still named as the
cause of a loss without a graph.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import diagnostics


class _Counted(nn.Module):
    """A module class with its own ``_wrapped_call_impl``, as a library might have."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 2)
        self.routed = 0

    def _wrapped_call_impl(self, *args, **kwargs):
        self.routed += 1
        return super()._wrapped_call_impl(*args, **kwargs)

    def forward(self, x):
        return self.lin(x)


def _train(model: nn.Module, steps: int = 3) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()


def test_a_class_with_its_own_call_route_is_called_as_without_a_watch():
    plain, watched = _Counted(), _Counted()
    _train(plain)
    with diagnostics.watch() as report:
        _train(watched)
    assert watched.routed == plain.routed  # torch's Module.__call__ ignores the override
    assert not report.findings


def test_a_compiled_call_implementation_is_used_under_a_watch():
    model = nn.Sequential(nn.Linear(4, 2))
    calls = []

    def compiled(*args, **kwargs):  # what module.compile() installs, without compiling
        calls.append(len(args))
        return model._call_impl(*args, **kwargs)

    model._compiled_call_impl = compiled
    with diagnostics.watch() as report:
        _train(model)
        with torch.no_grad():
            model(torch.randn(1, 4))
    assert calls == [1, 1, 1, 1]
    assert not report.findings


def test_the_same_outputs_and_gradients_with_and_without_a_watch():
    def run(watched: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))
        if watched:
            with diagnostics.watch():
                _train(model, steps=4)
                with torch.no_grad():
                    out = model(torch.ones(2, 4))
        else:
            _train(model, steps=4)
            with torch.no_grad():
                out = model(torch.ones(2, 4))
        return [out, *(p.detach().clone() for p in model.parameters())]

    for plain, watched in zip(run(False), run(True), strict=True):
        assert torch.equal(plain, watched)


def test_forwards_without_gradients_between_training_steps_are_not_mistaken_for_training():
    # An RL-style loop: actions chosen under no_grad by the model being trained.
    torch.manual_seed(0)
    q = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(q.parameters(), lr=1e-3)
    with diagnostics.watch() as report:
        for _ in range(20):
            with torch.no_grad():
                for _ in range(4):
                    q(torch.randn(1, 4)).argmax(dim=1)
            opt.zero_grad()
            F.smooth_l1_loss(q(torch.randn(8, 4)), torch.randn(8, 2)).backward()
            opt.step()
    assert not report.findings


def test_a_forward_without_gradients_named_as_the_cause_after_a_run_of_them():
    q = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    with diagnostics.watch() as report:
        with torch.no_grad():
            for _ in range(5):
                out = q(torch.randn(3, 4))
        with pytest.raises(RuntimeError, match="does not require grad"):
            out.sum().backward()
    [finding] = report.findings
    assert finding.code == "no-grad-training"
    assert "ran under torch.no_grad()" in finding.message


def _train_then_fail(*, no_grad: bool) -> diagnostics.Report:
    """Three good steps, then a step whose loss has no graph: its forward ran under no_grad,
    or its loss was detached."""
    torch.manual_seed(0)
    q = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.SGD(q.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for i in range(4):
            opt.zero_grad()
            if i == 3 and no_grad:
                with torch.no_grad():
                    out = q(torch.randn(8, 4))
            else:
                out = q(torch.randn(8, 4))
            loss = F.mse_loss(out, torch.randn(8, 2))
            if i == 3 and not no_grad:
                loss = loss.detach()
            if i == 3:
                with pytest.raises(RuntimeError):
                    loss.backward()
                break
            loss.backward()
            opt.step()
    return report


def test_the_latest_forward_names_the_cause_of_a_loss_without_a_graph():
    [finding] = _train_then_fail(no_grad=True).findings
    assert finding.code == "no-grad-training"
    assert "ran under torch.no_grad()" in finding.message  # not the earlier training forwards
    [finding] = _train_then_fail(no_grad=False).findings
    assert "cut off from it" in finding.message
