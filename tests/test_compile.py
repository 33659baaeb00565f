"""Compiled and scripted models under a watch: torch.compile (eager, aot_eager, inductor) and
TorchScript run exactly as without one, and the faults outside a compiled graph are found."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import diagnostics

BACKENDS = [
    "eager",
    "aot_eager",
    pytest.param(
        "inductor",
        marks=pytest.mark.skipif(
            shutil.which("cc") is None and shutil.which("gcc") is None,
            reason="inductor on the CPU needs a C compiler",
        ),
    ),
]


@pytest.fixture(autouse=True)
def fresh_dynamo() -> Iterator[None]:
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.ReLU(), nn.Linear(8, 1))


def batches(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(n):
        x = torch.randn(16, 4, generator=g)
        out.append((x, x.sum(1, keepdim=True)))
    return out


def train(backend: str, fault: str = "", epochs: int = 3) -> tuple[nn.Module, torch.Tensor]:
    """Train a compiled model (with ``fault`` switched on), then evaluate it once."""
    model = net()
    compiled = torch.compile(model, backend=backend)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if fault == "optimizer-over-a-copy":
        opt = torch.optim.SGD(net().parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    best = model.state_dict() if fault == "state-dict-reference" else None
    torch.manual_seed(2)
    for _ in range(epochs):
        for x, y in batches(4):
            if fault == "scheduler-first":
                sched.step()
            if fault != "no-zero-grad":
                opt.zero_grad()
            loss = F.mse_loss(compiled(x), y)
            if fault == "nan-loss":
                loss = loss * float("nan")
            loss.backward()
            opt.step()
        if fault != "scheduler-first":
            sched.step()
    if best is not None:
        model.load_state_dict(best)
    compiled.eval()
    with torch.no_grad():
        out = compiled(batches(1)[0][0])
    return model, out


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_compiled_model_trains_and_evaluates_exactly_as_without_a_watch(backend):
    plain_model, plain_out = train(backend)
    torch._dynamo.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even torch.compile's warning about global hooks
        with diagnostics.watch() as report:
            watched_model, watched_out = train(backend)
    assert report.findings == []
    assert report.internal_warnings == []
    plain, watched = plain_model.state_dict(), watched_model.state_dict()
    assert all(torch.equal(plain[k], watched[k]) for k in plain)
    assert torch.equal(plain_out, watched_out)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning")
@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("no-zero-grad", "grad-accumulation"),
        ("scheduler-first", "scheduler-before-optimizer"),
        ("nan-loss", "non-finite-loss"),
        ("optimizer-over-a-copy", "params-not-updating"),
        ("state-dict-reference", "state-dict-alias"),
    ],
)
def test_faults_outside_the_compiled_graph_are_found(fault, code):
    with diagnostics.watch() as report:
        train("aot_eager", fault)
    assert code in report.codes()
    assert report.internal_warnings == []


def test_a_module_compiled_in_place_trains_as_without_a_watch():
    def run() -> dict[str, torch.Tensor]:
        model = net()
        model.compile(backend="aot_eager")
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for x, y in batches(4):
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
        return model.state_dict()

    plain = run()
    torch._dynamo.reset()
    with diagnostics.watch() as report:
        watched = run()
    assert report.findings == [] and report.internal_warnings == []
    assert all(torch.equal(plain[k], watched[k]) for k in plain)


# -- TorchScript ---------------------------------------------------------------------------------


SCRIPTED = [
    pytest.param(lambda: nn.Dropout(0.1), (torch.randn(4, 3),), id="Dropout"),
    pytest.param(lambda: nn.BatchNorm1d(3), (torch.randn(4, 3),), id="BatchNorm1d"),
    pytest.param(lambda: nn.MSELoss(), (torch.randn(4, 3), torch.randn(4, 3)), id="MSELoss"),
]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
@pytest.mark.parametrize(("make", "inputs"), SCRIPTED)
def test_torchscript_compiles_modules_during_and_after_a_watch(make, inputs):
    with diagnostics.watch() as report:
        during = torch.jit.script(make().eval())
        out_during = during(*inputs)
    after = torch.jit.script(make().eval())
    expected = make().eval()(*inputs)
    assert torch.equal(out_during, expected)
    assert torch.equal(after(*inputs), expected)
    assert report.internal_warnings == []


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_a_function_imported_during_a_watch_behaves_as_the_original_afterwards():
    with diagnostics.watch():
        from torch.nn.functional import dropout, mse_loss

    x = torch.randn(8, 3)
    torch.manual_seed(0)
    expected = F.dropout(x, 0.5, True)
    torch.manual_seed(0)
    assert torch.equal(dropout(x, 0.5, True), expected)
    assert torch.equal(mse_loss(x, x * 2), F.mse_loss(x, x * 2))

    def uses_it(t: torch.Tensor) -> torch.Tensor:
        return dropout(t, 0.5, False) + mse_loss(t, t)

    assert torch.equal(torch.jit.script(uses_it)(x), x)


@pytest.mark.filterwarnings("ignore:`torch.jit.trace.*` is deprecated:FutureWarning")
def test_a_model_traced_during_a_watch_computes_as_the_model():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.3)).eval()
    x = torch.randn(5, 3)
    with diagnostics.watch() as report:
        traced = torch.jit.trace(model, (x,))
    assert torch.equal(traced(x), model(x))
    assert report.internal_warnings == []
