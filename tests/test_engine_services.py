"""What the engine keeps for every check of a watch: the clock, the module-call log, and the
events a check declines until it has something to follow (``quiet``, ``listen``, ``mute``)."""

from __future__ import annotations

import gc
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
from diagnostics import Check


def _step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    opt.zero_grad()
    F.mse_loss(model(x), y).backward()
    opt.step()


class _Reader(Check):
    """Reads the clock at each step, as a family that keeps no counts of its own does."""

    family = "test-reader"
    seen: ClassVar[list[tuple[int, int, list[tuple[object, int]]]]] = []

    def on_step_post(self, optimizer):
        clock = self.watch.clock
        self.seen.append((clock.backwards, clock.steps, clock.stepped_since_backward()))


def test_the_clock_counts_backwards_and_each_optimizers_steps():
    torch.manual_seed(0)
    gen, disc = nn.Linear(3, 3), nn.Linear(3, 1)
    opt_g = torch.optim.SGD(gen.parameters(), lr=0.01)
    opt_d = torch.optim.SGD(disc.parameters(), lr=0.01)
    x = torch.randn(4, 3)
    _Reader.seen = []
    watch = diagnostics.Watch(checks=[_Reader])
    with watch:
        for _ in range(2):
            opt_d.zero_grad()
            disc(gen(x).detach()).mean().backward()
            opt_d.step()
            opt_g.zero_grad()
            disc(gen(x)).mean().backward()
            opt_g.step()
        clock = watch.clock
        assert (clock.backwards, clock.steps, clock.ticks) == (4, 4, 8)
        steps = {id(opt): s.steps for opt, s in clock.optimizers()}
        assert steps == {id(opt_d): 2, id(opt_g): 2}
    # A step's handlers read the clock with that step counted.
    assert _Reader.seen == [
        (1, 1, [(opt_d, 1)]),
        (2, 2, [(opt_g, 1)]),
        (3, 3, [(opt_d, 2)]),
        (4, 4, [(opt_g, 2)]),
    ]


def test_a_new_watch_has_a_clock_of_its_own():
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 2), torch.randn(4, 1)
    outer = diagnostics.Watch(checks=[])
    with outer:
        _step(model, opt, x, y)
        inner = diagnostics.Watch(checks=[])
        with inner:
            _step(model, opt, x, y)
    assert (outer.clock.backwards, outer.clock.steps) == (2, 2)
    assert (inner.clock.backwards, inner.clock.steps) == (1, 1)


def test_a_step_on_meta_tensors_is_not_counted():
    param = nn.Parameter(torch.empty(3, device="meta"))
    opt = torch.optim.SGD([param], lr=0.1)
    watch = diagnostics.Watch(checks=[])
    with watch:
        param.grad = torch.empty(3, device="meta")
        opt.step()
    assert watch.clock.steps == 0


class _Quiet(Check):
    """Wants losses only after its first step, and steps only until then."""

    family = "test-quiet"
    quiet = frozenset({"on_loss"})
    events: ClassVar[list[str]] = []

    def on_loss(self, name, input, target, kwargs):
        self.events.append("loss")

    def on_step_post(self, optimizer):
        self.events.append("step")
        self.listen("on_loss")
        self.mute("on_step_post")


def test_a_quiet_event_arrives_only_after_listen_and_stops_after_mute():
    _Quiet.events = []
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 2), torch.randn(4, 1)
    with diagnostics.watch(checks=[_Quiet]):
        for _ in range(3):
            _step(model, opt, x, y)
    assert _Quiet.events == ["step", "loss", "loss"]


class _Logger(Check):
    family = "test-logger"
    logs_module_calls = True


def test_module_calls_with_gradients_are_logged_weakly_for_a_check_that_asks():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    x = torch.randn(4, 2)
    watch = diagnostics.Watch(checks=[_Logger])
    with watch:
        out = model(x)
        with torch.no_grad():
            for _ in range(3):
                model(x)  # without gradients: logged once, as a whole forward
        records = list(watch.module_calls)
        modules = [ref() for ref, *_ in records]
        # In the order the calls returned: the layers, then the model around them.
        assert modules == [model[0], model[1], model[2], model, model]
        assert records[-1][1:] == (None, None, False, True)
        records = records[:-1]
        first = records[0]
        assert first[1]() is x  # the batch, as the first layer's input
        assert records[1][1] is None  # an earlier output is no batch
        assert records[-1][2]() is out and records[-1][3] is True and records[-1][4] is False
    assert not watch.module_calls  # cleared as the watch ends
    del out, records, first
    gc.collect()


def test_no_call_is_logged_when_no_check_asks():
    model = nn.Linear(2, 1)
    watch = diagnostics.Watch(checks=[])
    with watch:
        model(torch.randn(4, 2))
        assert not watch.module_calls


def test_the_log_keeps_no_tensor_alive():
    model = nn.Linear(2, 1)
    watch = diagnostics.Watch(checks=[_Logger])
    with watch:
        out = model(torch.randn(4, 2))
        ref = watch.module_calls[-1][2]
        assert ref() is out
        del out
        gc.collect()
        assert ref() is None


class _Roots(Check):
    family = "test-roots"
    seen: ClassVar[list[bool]] = []

    def on_root_forward(self, module, args, output):
        self.seen.append(torch.is_grad_enabled())


class _TrainingRoots(_Roots):
    family = "test-training-roots"
    roots_without_grad = False


class _FailsWithoutGrad(Check):
    family = "test-fails-without-grad"
    seen: ClassVar[list[str]] = []

    def on_root_forward_pre(self, module, args):
        self.seen.append("pre")

    def on_root_forward(self, module, args, output):
        self.seen.append("post")
        if not torch.is_grad_enabled():
            raise ZeroDivisionError("boom")


def test_a_forward_without_gradients_reaches_both_root_handlers_and_a_failure_there_is_contained():
    _FailsWithoutGrad.seen = []
    model = nn.Linear(2, 1)
    x = torch.randn(4, 2)
    expected = model(x).detach()
    with diagnostics.watch(checks=[_FailsWithoutGrad]) as report:
        model(x)
        with torch.no_grad():
            out = model(x)  # the check fails here: switched off, the forward's result kept
            model(x)
    assert torch.equal(out, expected)
    assert _FailsWithoutGrad.seen == ["pre", "post", "pre", "post"]
    assert len(report.internal_warnings) == 1
    assert "on_root_forward" in report.internal_warnings[0]


def test_a_check_about_training_alone_is_not_sent_forwards_without_gradients():
    model = nn.Linear(2, 1)
    x = torch.randn(4, 2)
    for check, expected in ((_Roots, [True, False]), (_TrainingRoots, [True])):
        check.seen = []
        with diagnostics.watch(checks=[check]):
            model(x)
            with torch.no_grad():
                model(x)
        assert check.seen == expected
