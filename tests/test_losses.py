"""The losses family: loss-broadcast and softmax-before-cross-entropy.

Each fault is shown in several styles (script loop, Trainer class, functional calls, MLP, CNN,
RNN) and must be reported once, with a count, at the line of the loss call. The legal shapes
and inputs of each loss (class-index and soft-label targets, segmentation, label smoothing,
log-probabilities for NLLLoss) must stay silent.
"""

from __future__ import annotations

import warnings
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
from tests import helpers
from tests._markers import line_of

LOSS_CODES = {"loss-broadcast", "softmax-before-cross-entropy"}
# The one finding of the losses family, at an error, in this file (other families ignored).
only_finding = partial(helpers.only_finding, among=LOSS_CODES)


@pytest.fixture(autouse=True)
def _quiet_broadcast_warnings():
    # torch warns about some of these broadcasts itself; the tests look at the findings.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using a target size", category=UserWarning)
        yield


def regression_batches(n: int = 4, size: int = 16):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(size, 8, generator=g), torch.randn(size, generator=g)) for _ in range(n)]


def class_batches(n: int = 4, size: int = 16, classes: int = 5):
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(size, 8, generator=g), torch.randint(0, classes, (size,), generator=g))
        for _ in range(n)
    ]


def regressor() -> nn.Sequential:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))


# == loss-broadcast ================================================================================
def test_mse_between_a_column_output_and_a_flat_target_is_reported_at_the_loss_line():
    torch.manual_seed(0)
    model, data = regressor(), regression_batches()
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with diagnostics.watch() as report:
        for x, y in data:
            optimizer.zero_grad()
            loss = criterion(model(x), y)  # mse-broadcast
            loss.backward()
            optimizer.step()

    finding = only_finding(report, "loss-broadcast")
    assert finding.count == len(data)
    assert finding.location.line == line_of("mse-broadcast")
    evidence = dict(finding.evidence)
    assert evidence["loss"] == "nn.MSELoss"
    assert evidence["input shape"] == "(16, 1)"
    assert evidence["target shape"] == "(16,)"
    assert evidence["broadcast shape"] == "(16, 16)"
    assert "256 pairs instead of 16" in finding.message
    assert "target.view(-1, 1)" in finding.fix and "output.squeeze(1)" in finding.fix


class Trainer:
    """Squeezes the model's output but keeps the target as a column."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.optimizer.zero_grad()
        loss = F.l1_loss(self.model(x).squeeze(1), y.unsqueeze(1))  # trainer-l1
        loss.backward()
        self.optimizer.step()
        return loss.item()


def test_l1_between_a_flat_output_and_a_column_target_in_a_trainer_is_reported():
    torch.manual_seed(0)
    trainer, data = Trainer(regressor()), regression_batches()
    with diagnostics.watch() as report:
        for x, y in data:
            trainer.step(x, y)

    finding = only_finding(report, "loss-broadcast")
    assert finding.count == len(data)
    assert finding.location.line == line_of("trainer-l1")
    assert finding.location.function == "step"
    assert dict(finding.evidence)["loss"] == "F.l1_loss"
    assert "target.squeeze(1)" in finding.fix


def test_a_functional_model_with_a_huber_loss_broadcast_is_reported():
    torch.manual_seed(0)
    w = torch.randn(8, 1, requires_grad=True)
    with diagnostics.watch() as report:
        for x, y in regression_batches():
            loss = F.huber_loss(x @ w, y, delta=0.5)  # functional-huber
            loss.backward()
            with torch.no_grad():
                w -= 0.01 * w.grad
                w.grad = None

    finding = only_finding(report, "loss-broadcast")
    assert finding.count == len(regression_batches())
    assert finding.location.line == line_of("functional-huber")


class SequenceRegressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(3, 8, batch_first=True)
        self.head = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def test_a_recurrent_regressor_with_smooth_l1_broadcast_is_reported_once_with_a_count():
    torch.manual_seed(0)
    model = SequenceRegressor()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.SmoothL1Loss()
    x, y = torch.randn(6, 4, 3), torch.randn(6)
    with diagnostics.watch() as report:
        for _ in range(5):
            optimizer.zero_grad()
            criterion(model(x), y).backward()  # rnn-smooth-l1
            optimizer.step()

    finding = only_finding(report, "loss-broadcast")
    assert finding.count == 5
    assert finding.location.line == line_of("rnn-smooth-l1")
    assert dict(finding.evidence)["broadcast shape"] == "(6, 6)"


@pytest.mark.parametrize(
    ("loss", "output", "target"),
    [
        ("mse_loss", torch.randn(8, 1), torch.randn(8, 1)),
        ("mse_loss", torch.randn(8), torch.randn(8)),
        ("mse_loss", torch.randn(8, 3), torch.zeros(())),  # a constant target
        ("binary_cross_entropy_with_logits", torch.randn(8, 1), torch.rand(8, 1)),
        ("binary_cross_entropy", torch.rand(8, 4), torch.rand(8, 4)),
        ("l1_loss", torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)),
        ("cross_entropy", torch.randn(8, 5), torch.randint(0, 5, (8,))),
    ],
)
def test_matching_shapes_and_a_constant_target_are_not_reported_as_broadcasts(loss, output, target):
    with diagnostics.watch() as report:
        getattr(F, loss)(output, target)  # looked up inside the watch, which wraps it
    assert report.codes() & LOSS_CODES == set()


def hand_written_mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((prediction - target) ** 2).mean()


def test_a_hand_written_mse_that_broadcasts_is_reported_at_the_backward_line():
    torch.manual_seed(0)
    model, data = regressor(), regression_batches(n=12)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with diagnostics.watch() as report:
        for x, y in data:
            optimizer.zero_grad()
            loss = 0.5 * hand_written_mse(model(x), y)
            loss.backward()  # hand-written-backward
            optimizer.step()

    finding = only_finding(report, "loss-broadcast")
    assert finding.count == len(data)  # past the sampled calls: a reported site is always checked
    assert finding.location.line == line_of("hand-written-backward")
    evidence = dict(finding.evidence)
    assert evidence["prediction shape"] == "(16, 1)"
    assert evidence["difference shape"] == "(16, 16)"
    assert "256 pairs instead of 16" in finding.message
    assert "target.view(-1, 1)" in finding.fix


def test_a_hand_written_l1_of_a_flat_prediction_against_a_column_target_is_reported():
    torch.manual_seed(0)
    w = torch.randn(8, requires_grad=True)
    x, y = torch.randn(16, 8), torch.randn(16, 1)
    with diagnostics.watch() as report:
        (y - x @ w).abs().sum().backward()  # hand-written-l1
    finding = only_finding(report, "loss-broadcast")
    assert finding.location.line == line_of("hand-written-l1")
    assert "target.squeeze(1)" in finding.fix


@pytest.mark.parametrize("case", ["same-shapes", "pairwise-ranking", "kl-term", "huber"])
def test_hand_written_losses_without_a_broadcast_target_are_silent(case):
    torch.manual_seed(0)
    model = regressor()
    x, y = torch.randn(16, 8), torch.randn(16)
    with diagnostics.watch() as report:
        pred = model(x)
        if case == "same-shapes":
            loss = ((pred - y.view(-1, 1)) ** 2).mean()
        elif case == "pairwise-ranking":  # every pair of predictions, on purpose
            loss = F.relu(1 - (pred - pred.squeeze(1)) * (y.view(-1, 1) - y).sign()).mean()
        elif case == "kl-term":
            mu, logvar = pred, pred * 0.5
            loss = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        else:
            diff = (pred.squeeze(1) - y).abs()
            loss = torch.where(diff < 1, 0.5 * diff**2, diff - 0.5).mean()
        loss.backward()
    assert report.codes() & LOSS_CODES == set()


# == softmax-before-cross-entropy ================================================================
def test_a_model_ending_in_softmax_fed_to_cross_entropy_loss_is_reported_on_every_call():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 5), nn.Softmax(dim=1))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = class_batches(n=12)
    with diagnostics.watch() as report:
        for x, y in data:
            optimizer.zero_grad()
            loss = criterion(model(x), y)  # softmax-model
            loss.backward()
            optimizer.step()

    finding = only_finding(report, "softmax-before-cross-entropy")
    assert finding.count == len(data)  # past the sampled calls: a reported site is always checked
    assert finding.location.line == line_of("softmax-model")
    evidence = dict(finding.evidence)
    assert evidence["loss"] == "nn.CrossEntropyLoss"
    assert evidence["row sums"].startswith("1.0000, 1.0000, 1.0000")
    assert "log_softmax(softmax(logits))" in finding.message
    assert "cannot fall below 0.905" in finding.message  # log(1 + 4/e) for 5 classes
    assert "raw logits" in finding.fix


class SoftmaxNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.Tanh())
        self.out = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.out(self.body(x)), dim=1)


class ClassifierTrainer:
    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def fit(self, data) -> None:
        for x, y in data:
            self.optimizer.zero_grad()
            F.cross_entropy(self.model(x), y, label_smoothing=0.1).backward()  # trainer-ce
            self.optimizer.step()


def test_softmax_inside_forward_in_a_trainer_class_is_reported():
    torch.manual_seed(0)
    data = class_batches()
    with diagnostics.watch() as report:
        ClassifierTrainer(SoftmaxNet()).fit(data)

    finding = only_finding(report, "softmax-before-cross-entropy")
    assert finding.count == len(data)
    assert finding.location.line == line_of("trainer-ce")
    assert dict(finding.evidence)["loss"] == "F.cross_entropy"


def test_probabilities_made_by_exp_of_log_softmax_are_reported_in_a_segmentation_loss():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x, y = torch.randn(2, 3, 6, 6), torch.randint(0, 4, (2, 6, 6))
    with diagnostics.watch() as report:
        probs = torch.exp(conv(x).log_softmax(dim=1))
        F.cross_entropy(probs, y).backward()  # segmentation-probs

    finding = only_finding(report, "softmax-before-cross-entropy")
    assert finding.location.line == line_of("segmentation-probs")
    assert dict(finding.evidence)["input shape"] == "(2, 4, 6, 6)"


def test_probabilities_fed_to_a_soft_label_cross_entropy_are_reported():
    torch.manual_seed(0)
    logits = torch.randn(8, 5, requires_grad=True)
    soft_targets = torch.rand(8, 5).softmax(1)
    with diagnostics.watch() as report:
        F.cross_entropy(logits.softmax(1), soft_targets)  # soft-label-probs
    assert only_finding(report, "softmax-before-cross-entropy").location.line == line_of(
        "soft-label-probs"
    )


def test_a_model_ending_in_a_sigmoid_fed_to_cross_entropy_is_reported():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 5), nn.Sigmoid())
    criterion = nn.CrossEntropyLoss()
    data = class_batches()
    with diagnostics.watch() as report:
        for x, y in data:
            criterion(model(x), y).backward()  # sigmoid-model

    finding = only_finding(report, "softmax-before-cross-entropy")
    assert finding.count == len(data)
    assert finding.location.line == line_of("sigmoid-model")
    assert dict(finding.evidence)["input made by"] == "sigmoid"
    assert "BCEWithLogitsLoss" in finding.fix


def test_nll_loss_fed_softmax_probabilities_is_reported_as_probabilities():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 5), nn.Softmax(dim=1))
    criterion = nn.NLLLoss()
    data = class_batches()
    with diagnostics.watch() as report:
        for x, y in data:
            criterion(model(x), y).backward()  # nll-probs

    finding = only_finding(report, "softmax-before-cross-entropy")
    assert finding.count == len(data)
    assert finding.location.line == line_of("nll-probs")
    assert "probabilities" in finding.message and "not log-probabilities" in finding.message
    assert dict(finding.evidence)["loss"] == "nn.NLLLoss"
    assert "log_softmax" in finding.fix


def test_nll_loss_fed_raw_logits_is_reported_as_raw_scores():
    torch.manual_seed(0)
    model = nn.Linear(8, 5)
    with diagnostics.watch() as report:
        for x, y in class_batches():
            F.nll_loss(model(x), y).backward()  # nll-logits

    finding = only_finding(report, "softmax-before-cross-entropy")
    assert finding.location.line == line_of("nll-logits")
    assert "raw scores" in finding.message
    assert "exp row sums" in dict(finding.evidence)


def test_probabilities_at_a_new_call_site_are_found_after_many_correct_calls_elsewhere():
    torch.manual_seed(0)
    model = nn.Linear(8, 5)
    x, y = torch.randn(4, 8), torch.randint(0, 5, (4,))
    with diagnostics.watch() as report:
        for _ in range(100):
            F.cross_entropy(model(x), y)
        with torch.no_grad():
            F.cross_entropy(model(x).softmax(1), y)  # late-site
    finding = only_finding(report, "softmax-before-cross-entropy")
    assert finding.location.line == line_of("late-site")
    assert finding.count == 1


class LogSoftmaxNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.fc(x), dim=1)


@pytest.mark.parametrize(
    "case",
    [
        "logits",
        "label-smoothing",
        "soft-labels",
        "log-softmax-then-ce",
        "nll-after-log-softmax",
        "model-returns-log-probs",
        "segmentation-logits",
        "logits-in-unit-interval",
        "unbatched-logits",
    ],
)
def test_correct_cross_entropy_and_nll_inputs_are_silent(case):
    torch.manual_seed(0)
    logits = nn.Linear(8, 5)(torch.randn(16, 8))
    y = torch.randint(0, 5, (16,))
    with diagnostics.watch() as report:
        if case == "logits":
            nn.CrossEntropyLoss()(logits, y)
        elif case == "label-smoothing":
            nn.CrossEntropyLoss(label_smoothing=0.2)(logits, y)
        elif case == "soft-labels":
            F.cross_entropy(logits, torch.rand(16, 5).softmax(1))
        elif case == "log-softmax-then-ce":
            F.cross_entropy(logits.log_softmax(1), y)
        elif case == "nll-after-log-softmax":
            F.nll_loss(F.log_softmax(logits, dim=1), y)
        elif case == "model-returns-log-probs":
            nn.NLLLoss()(LogSoftmaxNet()(torch.randn(16, 8)), y)
        elif case == "segmentation-logits":
            F.cross_entropy(torch.randn(2, 4, 6, 6), torch.randint(0, 4, (2, 6, 6)))
        elif case == "logits-in-unit-interval":
            F.cross_entropy(torch.rand(16, 5), y)  # in [0, 1], but rows do not sum to 1
        else:
            F.cross_entropy(torch.randn(5), torch.tensor(2))
    assert report.codes() & LOSS_CODES == set()


def test_the_value_check_changes_no_result():
    def run() -> list[float]:
        torch.manual_seed(4)
        model = nn.Sequential(nn.Linear(8, 5), nn.Softmax(dim=1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        losses = []
        for x, y in class_batches():
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    bare = run()
    with diagnostics.watch() as report:
        watched = run()
    assert "softmax-before-cross-entropy" in report.codes()
    assert watched == bare
