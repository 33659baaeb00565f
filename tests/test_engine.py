"""The hook engine: scoping, allow-lists, nesting, hook removal and fault isolation."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
from diagnostics import _watch as _engine
from diagnostics._checks import Check

_warn_original = warnings.warn


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


# -- internal errors: a failing check leaves nothing behind --------------------------------------


def _hooks_on(param: torch.Tensor) -> int:
    return len(param._backward_hooks or {}) + len(param._post_accumulate_grad_hooks or {})


def _train_without_zero_grad(model, optimizer, steps=4):
    for _ in range(steps):
        F.mse_loss(model(torch.ones(4, 2)), torch.zeros(4, 1)).backward()
        optimizer.step()


def test_a_check_failing_at_an_event_is_switched_off_with_its_hooks_removed(monkeypatch):
    from diagnostics._checks import gradients

    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []

    def failing(self, loss):
        calls.append(loss)
        if len(calls) == 2:  # after the first step has hooked a parameter
            raise ZeroDivisionError("boom")

    monkeypatch.setattr(gradients.GradientChecks, "_check_finite", failing)
    with diagnostics.watch() as report:
        _train_without_zero_grad(model, opt)
        hooked_during = sum(_hooks_on(p) for p in model.parameters())
    assert hooked_during == 0  # removed as soon as the check failed, not only at the end
    assert len(calls) == 2  # switched off: no event reached it again
    assert report.internal_warnings == [
        "GradientChecks.on_backward failed and was switched off for this run: "
        "ZeroDivisionError: boom"
    ]
    assert "grad-accumulation" not in report.codes()


def test_a_check_failing_in_its_own_hook_never_breaks_the_users_backward(monkeypatch):
    from diagnostics._checks import _params

    def failing(sentinel, grad):
        raise RuntimeError("hook broke")

    monkeypatch.setattr(_params, "_incoming", failing)
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        _train(model, opt, steps=4)
    assert len(report.internal_warnings) == 1
    assert "RuntimeError: hook broke" in report.internal_warnings[0]
    assert all(_hooks_on(p) == 0 for p in model.parameters())


def test_a_failing_check_is_closed_even_when_its_finish_fails(only):
    closed = []

    class Hooking(Check):
        def on_step_pre(self, optimizer):
            self.handle = optimizer.param_groups[0]["params"][0].register_hook(lambda g: None)

        def finish(self):
            raise ValueError("finish broke")

        def close(self):
            closed.append(True)
            self.handle.remove()

    only(Hooking)
    model = nn.Linear(2, 1)
    with diagnostics.watch() as report:
        _train(model, torch.optim.SGD(model.parameters(), lr=0.1), steps=1)
    assert closed == [True]
    assert _hooks_on(model.weight) == 0
    assert "ValueError: finish broke" in report.internal_warnings[0]


def test_a_shape_probe_on_the_meta_device_leaves_later_faults_found():
    with diagnostics.watch() as report:
        with torch.device("meta"):
            probe = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
            out = probe(torch.empty(4, 2))
            probe_opt = torch.optim.SGD(probe.parameters(), lr=0.1)
            F.mse_loss(out, torch.empty(4, 1)).backward()
            probe_opt.step()
        assert out.shape == (4, 1)
        model = nn.Linear(2, 1)
        _train_without_zero_grad(model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert report.internal_warnings == []
    assert "grad-accumulation" in report.codes()
    assert all(_hooks_on(p) == 0 for p in [*model.parameters(), *probe.parameters()])


def test_fake_tensors_never_make_a_check_fail():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with diagnostics.watch() as report, FakeTensorMode():
        model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.2), nn.BatchNorm1d(8), nn.Linear(8, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            F.mse_loss(model(torch.randn(4, 2)), torch.randn(4, 1)).backward()
            opt.step()
        model.eval()
        model(torch.randn(4, 2))
    assert report.internal_warnings == []


def test_per_sample_losses_under_torch_func_never_make_a_check_fail():
    # DP-SGD: per-sample gradients with vmap(grad(...)); the loss inside sees wrapped tensors
    # whose values cannot be read, so the loss checks leave it alone and stay on.
    from torch.func import functional_call, grad, vmap

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    params = {k: v.detach() for k, v in model.named_parameters()}

    def sample_loss(p, x, y):
        logits = functional_call(model, p, (x.unsqueeze(0),))
        return F.cross_entropy(logits, y.unsqueeze(0))

    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    with diagnostics.watch() as report:
        grads = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, x, y)
        F.cross_entropy(model(x).softmax(1), y).backward()  # the loss checks still work
    assert grads["0.weight"].shape == (16, 8, 4)
    assert report.internal_warnings == []
    assert "softmax-before-cross-entropy" in report.codes()


# -- patches: only the engine's own are undone ---------------------------------------------------


def test_a_patch_the_user_makes_inside_the_watch_stays_after_it():
    original_save, original_mse = torch.save, F.mse_loss

    def my_save(obj, f, *args, **kwargs):
        return original_save(obj, f, *args, **kwargs)

    def my_mse(*args, **kwargs):
        return original_mse(*args, **kwargs)

    try:
        with diagnostics.watch():
            torch.save = my_save
            F.mse_loss = my_mse
        assert torch.save is my_save
        assert F.mse_loss is my_mse
        assert F.cross_entropy is not None and not hasattr(
            F.cross_entropy, "__wrapped_by_diagnostics__"
        )
    finally:
        torch.save, F.mse_loss = original_save, original_mse


def test_importing_the_package_alone_imports_no_torch():
    import subprocess
    import sys

    code = (
        "import sys, diagnostics; assert 'torch' not in sys.modules; "
        "diagnostics.watch; assert 'torch' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_torchs_own_warnings_name_the_users_line_not_the_engine():
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    prediction, target = torch.zeros(4, 1), torch.zeros(4)
    with diagnostics.watch(), pytest.warns(UserWarning) as caught:
        F.mse_loss(prediction, target)  # broadcasts: torch warns about its caller
        scheduler.step()  # before optimizer.step(): torch warns about its caller
    assert len(caught) >= 2
    for warning in caught:
        assert warning.filename == __file__, (warning.filename, str(warning.message)[:60])


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.script is deprecated
def test_warnings_in_torchscript_still_compile_during_and_after_a_watch():
    def scale(x: torch.Tensor) -> torch.Tensor:
        if x.sum() < 0:
            warnings.warn("negative", stacklevel=2)
        return x * 2

    with diagnostics.watch():
        during = torch.jit.script(scale)
    after = torch.jit.script(scale)
    assert during(torch.ones(2)).tolist() == after(torch.ones(2)).tolist() == [2.0, 2.0]
    assert warnings.warn is _warn_original
