"""The clipping family: clip-after-step, clip-before-unscale.

Clipping must sit between backward() and the step that uses the gradients, and with a
GradScaler after scaler.unscale_(optimizer). The order of events tells both faults; the right
orders, closures and several optimizers stay silent.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
from tests._markers import line_of
from tests.helpers import only_finding


def data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=g)
    return x, x.sum(1, keepdim=True)


def model_and_optimizer() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    return model, torch.optim.SGD(model.parameters(), lr=0.01)


def test_clipping_after_the_step_is_reported_at_the_clipping_line_with_its_first_step():
    model, optimizer = model_and_optimizer()
    x, y = data()
    with diagnostics.watch() as report:
        for i in range(0, 64, 16):
            optimizer.zero_grad()
            F.mse_loss(model(x[i : i + 16]), y[i : i + 16]).backward()
            optimizer.step()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # clip: late
    finding = only_finding(report, "clip-after-step", located=False)
    assert finding.location is not None
    assert finding.location.line == line_of("clip: late")
    assert finding.count == 4
    evidence = dict(finding.evidence)
    assert evidence["first faulty step"] == "#1"
    assert evidence["order seen"] == "backward() -> step() -> clip_grad_norm_()"


def test_clip_grad_value_imported_by_name_after_the_step_is_reported():
    # As in a script run by `python -m diagnostics`: its imports run inside the watch.
    model, optimizer = model_and_optimizer()
    x, y = data()
    with diagnostics.watch() as report:
        from torch.nn.utils import clip_grad_value_

        for _ in range(3):
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
            clip_grad_value_(model.parameters(), 0.1)
    assert "clip_grad_value_" in only_finding(report, "clip-after-step", located=False).message


def test_clipping_between_backward_and_step_is_silent():
    model, optimizer = model_and_optimizer()
    x, y = data()
    with diagnostics.watch() as report:
        for _ in range(3):
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    assert report.findings == []


def test_clipping_inside_a_closure_is_silent():
    model, optimizer = model_and_optimizer()
    x, y = data()

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        return loss

    with diagnostics.watch() as report:
        for _ in range(3):
            optimizer.step(closure)
    assert report.findings == []


def test_clipping_the_second_optimizers_parameters_after_the_first_ones_step_is_silent():
    torch.manual_seed(0)
    encoder, decoder = nn.Linear(8, 4), nn.Linear(4, 1)
    opt_enc = torch.optim.SGD(encoder.parameters(), lr=0.01)
    opt_dec = torch.optim.SGD(decoder.parameters(), lr=0.01)
    x, y = data()
    with diagnostics.watch() as report:
        for _ in range(3):
            opt_enc.zero_grad()
            opt_dec.zero_grad()
            F.mse_loss(decoder(encoder(x)), y).backward()
            opt_enc.step()
            nn.utils.clip_grad_norm_(decoder.parameters(), 1.0)
            opt_dec.step()
    assert report.findings == []


def scaled_loop(*, unscale: bool, enabled: bool = True) -> diagnostics.Report:
    model, _ = model_and_optimizer()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cpu", enabled=enabled)
    x, y = data()
    with diagnostics.watch() as report:
        for i in range(0, 64, 16):
            optimizer.zero_grad()
            scaler.scale(F.mse_loss(model(x[i : i + 16]), y[i : i + 16])).backward()
            if unscale:
                scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)  # clip: scaled
            scaler.step(optimizer)
            scaler.update()
    return report


def test_clipping_scaled_gradients_before_unscale_is_reported_with_the_scale():
    finding = only_finding(scaled_loop(unscale=False), "clip-before-unscale", located=False)
    assert finding.location is not None
    assert finding.location.line == line_of("clip: scaled")
    evidence = dict(finding.evidence)
    assert evidence["loss scale at the clip"] == "65536"
    assert evidence["threshold"] == "0.5"
    assert "unscale_" in finding.fix


def test_unscale_then_clip_is_silent():
    assert scaled_loop(unscale=True).findings == []


def test_clipping_with_a_disabled_scaler_is_silent():
    assert scaled_loop(unscale=False, enabled=False).findings == []


def test_the_clipping_functions_are_restored_after_the_watch():
    original = nn.utils.clip_grad_norm_
    with diagnostics.watch():
        assert nn.utils.clip_grad_norm_ is not original
    assert nn.utils.clip_grad_norm_ is original
    assert torch.nn.utils.clip_grad.clip_grad_norm_ is original
