"""The hook engine: scoping, allow-lists, nesting, hook removal and fault isolation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
from diagnostics import _engine
from diagnostics._checks import Check


class _StepCounter(Check):
    """A probe check: reports one info finding per optimizer it sees stepping."""

    def on_step_pre(self, optimizer):
        self.emit(
            "eval-without-no-grad",
            key=id(optimizer),
            subject=optimizer,
            message="probe",
            fix="none",
        )


class _Exploding(Check):
    def on_step_pre(self, optimizer):
        raise ZeroDivisionError("boom")


@pytest.fixture
def only(monkeypatch):
    def use(*checks):
        monkeypatch.setattr(_engine, "_checks_for_run", lambda: checks)

    return use


def _train(model, optimizer, steps=3):
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(torch.ones(4, 2)), torch.zeros(4, 1)).backward()
        optimizer.step()


def test_repeated_faults_are_reported_once_with_a_count(only):
    only(_StepCounter)
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        _train(model, opt, steps=5)
    assert len(report.findings) == 1
    assert report.findings[0].count == 5
    assert report.findings[0].location.file.endswith("test_engine.py")


def test_a_scoped_watch_keeps_only_findings_about_its_targets(only):
    only(_StepCounter)
    a, b = nn.Linear(2, 1), nn.Linear(2, 1)
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1)
    with diagnostics.watch(b) as report:
        _train(a, opt_a)
        _train(b, opt_b)
    assert [f.count for f in report.findings] == [3]


def test_allowed_codes_are_silenced(only):
    only(_StepCounter)
    model = nn.Linear(2, 1)
    with diagnostics.watch(allow=["eval-without-no-grad"]) as report:
        _train(model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert report.findings == []


def test_an_unknown_allowed_code_is_refused_with_a_suggestion():
    with pytest.raises(diagnostics.UnknownCodeError, match="Did you mean 'grad-accumulation'"):
        diagnostics.watch(allow=["grad-acumulation"])


def test_options_passed_positionally_are_refused_clearly():
    with pytest.raises(TypeError, match="allow="):
        diagnostics.watch("grad-accumulation")


def test_nested_watches_each_report_once(only):
    only(_StepCounter)
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as outer:
        with diagnostics.watch() as inner:
            _train(model, opt, steps=2)
        _train(model, opt, steps=1)
    assert [f.count for f in inner.findings] == [2]
    assert [f.count for f in outer.findings] == [3]


def test_a_failing_check_becomes_an_internal_warning_and_the_run_goes_on(only):
    only(_Exploding, _StepCounter)
    model = nn.Linear(2, 1)
    with diagnostics.watch() as report:
        _train(model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert len(report.internal_warnings) == 1
    assert "ZeroDivisionError: boom" in report.internal_warnings[0]
    assert report.findings[0].count == 3  # the other checks kept working


def _patched_names():
    return {
        "backward": torch.autograd.backward,
        "mse_loss": F.mse_loss,
        "dropout": F.dropout,
        "batch_norm": F.batch_norm,
        "save": torch.save,
        "state_dict": nn.Module.state_dict,
        "load_state_dict": nn.Module.load_state_dict,
        "step": torch.optim.lr_scheduler.LRScheduler.step,
    }


def test_every_hook_and_patch_is_removed_when_the_watch_ends():
    from torch.nn.modules import module as module_mod
    from torch.optim import optimizer as optim_mod

    before = _patched_names()
    hooks_before = (
        len(module_mod._global_forward_hooks),
        len(optim_mod._global_optimizer_pre_hooks),
    )
    with diagnostics.watch():
        during = _patched_names()
    assert all(during[k] is not before[k] for k in before)
    assert _patched_names() == before
    after = (len(module_mod._global_forward_hooks), len(optim_mod._global_optimizer_pre_hooks))
    assert after == hooks_before


def test_hooks_are_removed_even_when_the_watched_code_raises():
    before = _patched_names()
    with pytest.raises(ValueError), diagnostics.watch():
        raise ValueError("user error")
    assert _patched_names() == before


def test_the_watched_code_computes_exactly_the_same_values():
    def run():
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 1)
        )
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
        for _ in range(6):
            x = torch.randn(16, 4)
            opt.zero_grad()
            F.mse_loss(model(x), x.sum(1, keepdim=True)).backward()
            opt.step()
            sched.step()
        return model.state_dict()

    plain = run()
    with diagnostics.watch():
        watched = run()
    assert all(torch.equal(plain[k], watched[k]) for k in plain)


def test_a_watch_cannot_be_entered_twice_at_once():
    w = diagnostics.watch()
    with w, pytest.raises(RuntimeError, match="already active"):
        w.__enter__()


class _LossCounter(Check):
    calls = 0

    def on_loss(self, name, input, target, kwargs):
        type(self).calls += 1


def test_a_loss_under_a_torch_function_mode_is_one_event(only):
    from torch.overrides import TorchFunctionMode

    class Passthrough(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    only(_LossCounter)
    _LossCounter.calls = 0
    with diagnostics.watch(), Passthrough():
        F.cross_entropy(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    assert _LossCounter.calls == 1
