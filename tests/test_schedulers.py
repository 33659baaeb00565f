"""The schedulers family: a scheduler stepped before its optimizer, and an epoch schedule
stepped every batch; and silence on every correct way of scheduling, GradScaler's skipped
steps included (where torch's own warning misfires)."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader

import diagnostics
import kata_fixtures as fixtures
from tests.helpers import assert_points_at, single

CODES = {"scheduler-before-optimizer", "scheduler-per-batch"}
EPOCHS = 5

pytestmark = pytest.mark.filterwarnings(
    "ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning"
)


# -- helpers ------------------------------------------------------------------------------------


def loader() -> DataLoader:
    """Six batches per epoch."""
    return DataLoader(fixtures.regression(n=256).train_set(), batch_size=32)


def setup(lr: float = 0.1) -> tuple[nn.Module, torch.optim.Optimizer, DataLoader]:
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(16,))
    return model, torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), loader()


def batch_step(model: nn.Module, optimizer: torch.optim.Optimizer, x, y) -> float:
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def watched(run: Callable[[], object]) -> diagnostics.Report:
    with diagnostics.watch() as report:
        run()
    assert report.internal_warnings == []
    return report


# -- scheduler-before-optimizer -----------------------------------------------------------------
def test_a_scheduler_stepped_at_the_top_of_the_batch_loop_is_reported_once():
    model, optimizer, data = setup()
    scheduler = lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    with diagnostics.watch() as report:
        for x, y in data:
            scheduler.step()  # before: top of loop
            batch_step(model, optimizer, x, y)
    finding = single(report, "scheduler-before-optimizer")
    assert finding.count == 1
    assert_points_at(finding, "before: top of loop")
    evidence = dict(finding.evidence)
    assert evidence["first learning rate of the schedule (skipped)"] == "0.1"
    assert evidence["first learning rate used"] == "0.05"
    assert "the learning rate 0.1 was never used and training started at 0.05" in finding.message


def test_a_scheduler_stepped_between_backward_and_the_optimizer_step_is_reported():
    model, optimizer, data = setup()
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=len(data))
    with diagnostics.watch() as report:
        for x, y in data:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            scheduler.step()  # before: same iteration
            optimizer.step()
    finding = single(report, "scheduler-before-optimizer")
    assert_points_at(finding, "before: same iteration")
    assert "optimizer.step() came after scheduler.step()" in finding.message


def test_an_epoch_scheduler_stepped_at_the_start_of_each_epoch_is_reported():
    model, optimizer, data = setup()
    scheduler = lr_scheduler.MultiStepLR(optimizer, milestones=[1, 3], gamma=0.1)
    with diagnostics.watch() as report:
        for _ in range(EPOCHS):
            scheduler.step()  # before: epoch start
            for x, y in data:
                batch_step(model, optimizer, x, y)
    finding = single(report, "scheduler-before-optimizer")
    assert_points_at(finding, "before: epoch start")
    assert report.by_code("scheduler-per-batch") == []


class EpochTrainer:
    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = fixtures.SmallCNN(width=4)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.scheduler = lr_scheduler.ExponentialLR(self.optimizer, gamma=0.5)

    def start_epoch(self) -> None:
        self.scheduler.step()  # before: trainer

    def fit(self, epochs: int) -> None:
        data = fixtures.digits()
        for _ in range(epochs):
            self.start_epoch()
            for i in range(0, 96, 32):
                self.optimizer.zero_grad()
                x, y = data.x_train[i : i + 32], data.y_train[i : i + 32]
                F.cross_entropy(self.model(x), y).backward()
                self.optimizer.step()


def test_a_trainer_stepping_its_scheduler_when_an_epoch_starts_is_reported():
    with diagnostics.watch() as report:
        EpochTrainer().fit(epochs=3)
    finding = single(report, "scheduler-before-optimizer")
    assert_points_at(finding, "before: trainer")
    assert "0.001 was never used and training started at 0.0005" in finding.message


def test_a_step_skipped_by_grad_scaler_is_not_taken_for_scheduler_before_optimizer():
    model, optimizer, data = setup()
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=len(data))
    scaler = torch.amp.GradScaler("cpu")

    def run() -> None:
        for i, (x, y) in enumerate(data):
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            if i == 0:  # NaN gradients with a finite loss: the scaler skips the first step
                loss = loss + torch.sqrt(model[0].weight * 0).sum()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = watched(run)
    assert any("before `optimizer.step()`" in str(w.message) for w in caught)  # torch misfires
    assert report.codes() & CODES == set()


def test_a_scheduler_whose_optimizer_stepped_before_the_watch_is_not_reported():
    model, optimizer, data = setup()
    scheduler = lr_scheduler.StepLR(optimizer, step_size=10)
    x, y = next(iter(data))
    batch_step(model, optimizer, x, y)  # a first step outside the watch
    with diagnostics.watch() as report:
        scheduler.step()
        for x, y in data:
            batch_step(model, optimizer, x, y)
    assert report.codes() & CODES == set()


# -- scheduler-per-batch ------------------------------------------------------------------------
def test_a_step_lr_stepped_every_batch_is_reported_with_its_collapsing_learning_rate():
    model, optimizer, data = setup()
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    with diagnostics.watch() as report:
        for _ in range(EPOCHS):
            for x, y in data:
                batch_step(model, optimizer, x, y)
                scheduler.step()  # per batch: script
    finding = single(report, "scheduler-per-batch")
    assert finding.count == 1
    assert_points_at(finding, "per batch: script")
    assert "multiplied by 0.5 15 times" in finding.message
    evidence = dict(finding.evidence)
    assert evidence["scheduler steps"] == "30"
    assert evidence["optimizer steps per scheduler step"] == "1"
    series = dict(finding.series)
    assert len(series["learning rate"]) == 31
    assert series["log10 learning rate"][-1] < -5
    assert "step_size=2 * len(train_loader)" in finding.fix
    assert report.by_code("scheduler-before-optimizer") == []


class CosineTrainer:
    """Steps a cosine schedule written for EPOCHS epochs after every batch."""

    def __init__(self, epochs: int) -> None:
        self.model, self.optimizer, self.data = setup()
        self.scheduler = lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=epochs)
        self.epochs = epochs

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        loss = batch_step(self.model, self.optimizer, x, y)
        self.scheduler.step()  # per batch: trainer
        return loss

    def fit(self) -> None:
        for _ in range(self.epochs):
            for x, y in self.data:
                self.train_step(x, y)


def test_a_cosine_written_in_epochs_and_stepped_every_batch_is_reported_as_cycling():
    with diagnostics.watch() as report:
        CosineTrainer(EPOCHS).fit()  # the trainer, its optimizer and scheduler die here
    finding = single(report, "scheduler-per-batch")
    assert_points_at(finding, "per batch: trainer")
    assert "CosineAnnealingLR(T_max=5)" in finding.message
    assert "down and back up 3.0 times" in finding.message
    assert "T_max=epochs * len(train_loader)" in finding.fix


def train_epoch(model, optimizer, scheduler, data) -> None:
    for x, y in data:
        batch_step(model, optimizer, x, y)
        scheduler.step()  # per batch: function


def test_milestones_passed_in_the_first_batches_are_reported_from_a_helper_function():
    model, optimizer, data = setup()
    scheduler = lr_scheduler.MultiStepLR(optimizer, milestones=[2, 4], gamma=0.1)
    with diagnostics.watch() as report:
        for _ in range(EPOCHS):
            train_epoch(model, optimizer, scheduler, data)
    finding = single(report, "scheduler-per-batch")
    assert_points_at(finding, "per batch: function")
    assert "every milestone had passed by step 4 of 30" in finding.message


def test_a_warmup_then_epoch_cosine_in_sequential_lr_names_the_cosine():
    model, optimizer, data = setup()
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=3)
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    scheduler = lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[3])
    with diagnostics.watch() as report:
        for _ in range(EPOCHS):
            for x, y in data:
                batch_step(model, optimizer, x, y)
                scheduler.step()
    finding = single(report, "scheduler-per-batch")
    assert "CosineAnnealingLR(T_max=5) inside SequentialLR" in finding.message


def test_an_exponential_decay_stepped_every_batch_of_a_cnn_is_reported():
    torch.manual_seed(0)
    model = fixtures.SmallCNN(width=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    data = fixtures.digits()
    with diagnostics.watch() as report:
        for _ in range(EPOCHS):
            for i in range(0, 80, 16):
                optimizer.zero_grad()
                x, y = data.x_train[i : i + 16], data.y_train[i : i + 16]
                F.cross_entropy(model(x), y).backward()
                optimizer.step()
                scheduler.step()
    finding = single(report, "scheduler-per-batch")
    assert "ExponentialLR(gamma=0.5)" in finding.message
    assert "gamma=0.5 ** (1 / len(train_loader))" in finding.fix


def test_a_polynomial_decay_with_its_default_horizon_is_reported():
    model, optimizer, data = setup()
    scheduler = lr_scheduler.PolynomialLR(optimizer)  # total_iters=5 by default
    with diagnostics.watch() as report:
        for _ in range(EPOCHS):
            for x, y in data:
                batch_step(model, optimizer, x, y)
                scheduler.step()
    assert "total_iters=5" in single(report, "scheduler-per-batch").message


def test_a_lambda_decay_written_per_epoch_is_reported_from_the_learning_rates_seen():
    model, optimizer, data = setup()
    scheduler = lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5**epoch)
    with diagnostics.watch() as report:
        for _ in range(EPOCHS):
            for x, y in data:
                batch_step(model, optimizer, x, y)
                scheduler.step()
    assert single(report, "scheduler-per-batch").message.startswith("LambdaLR was stepped 30")


# -- silence on correct scheduling --------------------------------------------------------------
def _per_batch(make: Callable[[torch.optim.Optimizer, int], object]) -> Callable[[], None]:
    def run() -> None:
        model, optimizer, data = setup()
        scheduler = make(optimizer, EPOCHS * len(data))
        for _ in range(EPOCHS):
            for x, y in data:
                batch_step(model, optimizer, x, y)
                scheduler.step()

    return run


def _per_epoch(make: Callable[[torch.optim.Optimizer, int], object]) -> Callable[[], None]:
    def run() -> None:
        model, optimizer, data = setup()
        scheduler = make(optimizer, EPOCHS)
        for _ in range(EPOCHS):
            for x, y in data:
                batch_step(model, optimizer, x, y)
            scheduler.step()

    return run


def plateau_stepped_per_epoch_with_a_metric() -> None:
    model, optimizer, data = setup()
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    for _ in range(EPOCHS):
        losses = [batch_step(model, optimizer, x, y) for x, y in data]
        scheduler.step(sum(losses) / len(losses))


def warm_restarts_stepped_with_fractional_epochs() -> None:
    model, optimizer, data = setup()
    scheduler = lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=1)
    iters = len(data)
    for epoch in range(EPOCHS):
        for i, (x, y) in enumerate(data):
            batch_step(model, optimizer, x, y)
            scheduler.step(epoch + i / iters)


def step_lr_written_in_batches() -> None:
    model, optimizer, data = setup()
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2 * len(data), gamma=0.5)
    for _ in range(EPOCHS):
        for x, y in data:
            batch_step(model, optimizer, x, y)
            scheduler.step()


def one_cycle_with_gradient_accumulation() -> None:
    model, optimizer, data = setup()
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=EPOCHS * 3)
    for _ in range(EPOCHS):
        optimizer.zero_grad()
        for i, (x, y) in enumerate(data):
            (F.mse_loss(model(x), y) / 2).backward()
            if i % 2 == 1:
                optimizer.step()
                optimizer.zero_grad()
                scheduler.step()


def a_scheduler_created_after_some_training() -> None:
    model, optimizer, data = setup()
    for x, y in data:
        batch_step(model, optimizer, x, y)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    for _ in range(2):
        for x, y in data:
            batch_step(model, optimizer, x, y)
        scheduler.step()


def lbfgs_with_a_closure_then_the_scheduler() -> None:
    model, optimizer, data = setup()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=3)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.9)
    for x, y in data:

        def closure(x=x, y=y):
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss

        optimizer.step(closure)
    scheduler.step()


CORRECT = {
    "one_cycle_per_batch": _per_batch(
        lambda opt, total: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=total)
    ),
    "cyclic_per_batch": _per_batch(
        lambda opt, total: lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4)
    ),
    "linear_warmup_per_batch": _per_batch(
        lambda opt, total: lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=10)
    ),
    "lambda_warmup_per_batch": _per_batch(
        lambda opt, total: lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / 10))
    ),
    "cosine_over_all_batches": _per_batch(
        lambda opt, total: lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    ),
    "warmup_then_cosine_over_all_batches": _per_batch(
        lambda opt, total: lr_scheduler.SequentialLR(
            opt,
            [
                lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=5),
                lr_scheduler.CosineAnnealingLR(opt, T_max=total - 5),
            ],
            milestones=[5],
        )
    ),
    "step_lr_per_epoch": _per_epoch(
        lambda opt, epochs: lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    ),
    "multi_step_per_epoch": _per_epoch(
        lambda opt, epochs: lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.1)
    ),
    "cosine_per_epoch": _per_epoch(
        lambda opt, epochs: lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    ),
    "exponential_per_epoch": _per_epoch(
        lambda opt, epochs: lr_scheduler.ExponentialLR(opt, gamma=0.5)
    ),
    "plateau_per_epoch_with_a_metric": plateau_stepped_per_epoch_with_a_metric,
    "warm_restarts_with_fractional_epochs": warm_restarts_stepped_with_fractional_epochs,
    "step_lr_written_in_batches": step_lr_written_in_batches,
    "one_cycle_with_gradient_accumulation": one_cycle_with_gradient_accumulation,
    "scheduler_created_after_some_training": a_scheduler_created_after_some_training,
    "lbfgs_with_a_closure_then_the_scheduler": lbfgs_with_a_closure_then_the_scheduler,
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", CORRECT)
def test_correct_scheduling_gets_no_scheduler_finding(name):
    report = watched(CORRECT[name])
    assert report.codes() & CODES == set(), [f"{f.location} {f.message}" for f in report.findings]


def test_scheduling_under_watch_ends_with_bit_identical_parameters():
    def run() -> dict[str, torch.Tensor]:
        model, optimizer, data = setup()
        scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        for _ in range(EPOCHS):
            for x, y in data:
                batch_step(model, optimizer, x, y)
                scheduler.step()
        return {k: v.clone() for k, v in model.state_dict().items()}

    plain = run()
    with diagnostics.watch():
        watched_state = run()
    assert all(torch.equal(plain[k], watched_state[k]) for k in plain)


def test_a_step_decay_in_full_batch_training_stepped_once_per_epoch_is_silent():
    torch.manual_seed(0)
    data = fixtures.regression(n=64)
    model = nn.Linear(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    with diagnostics.watch() as report:
        for _ in range(120):  # one epoch is one step: the whole data set is the batch
            optimizer.zero_grad()
            F.mse_loss(model(data.x_train), data.y_train).backward()
            optimizer.step()
            scheduler.step()
    assert "scheduler-per-batch" not in report.codes(), report.findings


def few_batches_run(make: Callable[[torch.optim.Optimizer], object], *, epochs: int = 2):
    """8 batches per epoch, the scheduler stepped after every batch."""
    torch.manual_seed(0)
    data = fixtures.regression(n=400)
    batches = DataLoader(torch.utils.data.Subset(data.train_set(), range(256)), batch_size=32)
    model = fixtures.MLP(8, 1, hidden=(8,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = make(optimizer)
    with diagnostics.watch() as report:
        for _ in range(epochs):
            for x, y in batches:
                batch_step(model, optimizer, x, y)
                scheduler.step()  # type: ignore[attr-defined]
    return report


def test_a_steplr_per_batch_is_reported_within_two_epochs_once_the_rate_fell_tenfold():
    report = few_batches_run(lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.1))
    finding = single(report, "scheduler-per-batch")
    assert "8 optimizer steps per epoch" in finding.message
    assert "iterated 2 times" in finding.message


def test_a_multisteplr_and_an_exponentiallr_per_batch_are_reported_from_the_epochs():
    multi = few_batches_run(lambda o: lr_scheduler.MultiStepLR(o, milestones=[5, 12], gamma=0.3))
    assert single(multi, "scheduler-per-batch")
    expo = few_batches_run(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.8))
    assert single(expo, "scheduler-per-batch")


def test_schedules_written_in_batches_stay_silent_with_few_batches_per_epoch():
    for make in (
        lambda o: lr_scheduler.StepLR(o, step_size=40, gamma=0.1),
        lambda o: lr_scheduler.ExponentialLR(o, gamma=0.99),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=3 * 8),
    ):
        report = few_batches_run(make, epochs=3)
        assert report.findings == [], report.findings


def test_a_falling_steplr_without_visible_epochs_waits_for_the_whole_run_rule():
    # The same 16 steps drawn from tensors, not a DataLoader: no epoch is visible, and two
    # decays are not enough for the rule that judges from counts alone.
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(8,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    with diagnostics.watch() as report:
        for _ in range(16):
            batch_step(model, optimizer, torch.randn(32, 8), torch.randn(32, 1))
            scheduler.step()
    assert report.findings == []
