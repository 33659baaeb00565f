"""The divergence family: loss-diverging.

A training loss that climbs orders of magnitude above where it started and stays there,
while finite, is reported at the step where the climb began, with the learning rate and the
loss series. Oscillating, restarting, negative and recovering losses stay silent, and a loss
that goes on to inf is non-finite-loss alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
import kata_fixtures as fixtures

CODE = "loss-diverging"


def classify(lr: float, *, optimizer: str = "Adam", steps: int = 30) -> diagnostics.Report:
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = fixtures.MLP(64, 10, hidden=(32,))
    opt = getattr(torch.optim, optimizer)(model.parameters(), lr=lr)
    with diagnostics.watch() as report:
        for step in range(steps):
            i = (step * 64) % 1024
            opt.zero_grad()
            F.cross_entropy(model(data.x_train[i : i + 64]), data.y_train[i : i + 64]).backward()
            opt.step()  # step: classify
    return report


def test_adam_at_a_huge_learning_rate_is_reported_with_the_rate_and_the_series():
    report = classify(3e5)
    assert report.codes() == {CODE}, report.findings
    [finding] = report.by_code(CODE)
    assert finding.severity is diagnostics.Severity.ERROR
    evidence = dict(finding.evidence)
    assert evidence["learning rate at that step"] == "3e+05"
    assert evidence["diverging from step"] == "#2"
    assert float(evidence["latest loss"]) > 1e3 * float(evidence["loss at the first step"])
    [(name, values)] = finding.series
    assert name == "training loss at each step" and len(values) == 30
    assert "Lower the learning rate" in finding.fix


def test_a_sensible_learning_rate_is_silent():
    assert classify(1e-3).findings == []


def scripted(losses: list[float]) -> diagnostics.Report:
    """A loop whose loss takes the given values (a scale on a real graph)."""
    w = nn.Parameter(torch.ones(()))
    opt = torch.optim.SGD([w], lr=0.0)
    with diagnostics.watch() as report:
        for value in losses:
            opt.zero_grad()
            (w * value).backward()
            opt.step()
    return report


def test_a_spike_that_recovers_is_silent():
    assert scripted([2.0] * 10 + [5e4] * 10 + [1.0] * 10).findings == []
    assert scripted([2.0] * 10 + [5e4] * 10 + [1.0] * 10 + [6e4]).findings == []


def test_a_loss_that_stays_far_above_its_start_is_reported():
    report = scripted([2.0, 1.5, *[3e4 * (1 + k) for k in range(10)]])
    assert report.codes() == {CODE}


def test_a_loss_at_the_rounding_floor_of_a_fitted_model_is_silent():
    # Watched after it already fits its data: float rounding, not divergence.
    floor = [1e-14 * (1 + k % 3) for k in range(20)]
    assert scripted(floor + [5e-11 * (1 + k) for k in range(10)]).findings == []


def test_the_spikes_of_a_fitted_model_are_silent():
    # Adam near a perfect fit throws the loss up to 1e-4 for a few steps, now and then.
    floor = [1e-14 * (1 + k % 3) for k in range(20)]
    assert scripted(floor + [1e-4] * 6 + [8e-11] * 5).findings == []
    assert scripted(floor + [1e-4] * 6 + floor + [5e-6]).findings == []  # one more at the end
    assert scripted(floor + [1e-4] * 8).findings == []  # the watch ends inside one


def test_a_loss_of_a_small_scale_that_climbs_far_above_it_is_reported():
    # Targets in thousandths: the loss starts small and still diverges.
    report = scripted([1e-6, 8e-7, *[1e-2 * (1 + k) for k in range(10)]])
    assert report.codes() == {CODE}


def test_a_divergence_after_the_kept_series_is_dated_at_its_own_step():
    report = scripted([2.0] * 300 + [5e4 * (1 + k) for k in range(10)])
    [finding] = report.findings
    assert dict(finding.evidence)["diverging from step"] == "#301"


def test_fewer_steps_far_above_than_the_window_are_silent():
    assert scripted([2.0, 1.5, 3e4, 4e4, 5e4, 1e5]).findings == []


def test_a_loss_that_goes_negative_is_never_judged():
    # A policy-gradient objective: its magnitude follows the returns, not divergence.
    assert scripted([-1.0, 5.0, *[1e4 * (1 + k) for k in range(10)]]).findings == []


def test_oscillating_and_restarting_losses_are_silent():
    gan = [0.7 + 0.6 * math.sin(k) for k in range(60)]
    restarts = [2.0 * 0.9 ** (k % 20) + 0.01 for k in range(60)]
    assert scripted(gan).findings == []
    assert scripted(restarts).findings == []


def test_a_loss_that_ends_in_inf_is_non_finite_loss_only():
    report = scripted([2.0, *[10.0 ** (3 + k) for k in range(8)], math.inf])
    assert report.codes() == {"non-finite-loss"}, report.findings
