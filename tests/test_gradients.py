"""The gradients family: stale and cleared gradients, optimizers that update nothing,
parameters no optimizer holds, losses without a graph and non-finite losses; and silence on
every correct way of training."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import diagnostics
import kata_fixtures as fixtures
from tests.helpers import assert_points_at, single

CODES = {
    "grad-accumulation",
    "grads-cleared-before-step",
    "params-not-updating",
    "no-grad-training",
    "non-finite-loss",
}


# -- helpers ------------------------------------------------------------------------------------


def regression_loader(batch_size: int = 32) -> DataLoader:
    return DataLoader(fixtures.regression(n=256).train_set(), batch_size=batch_size)


def digits_loader(batch_size: int = 32, batches: int = 6, flat: bool = False) -> DataLoader:
    data = fixtures.digits(flat=flat)
    n = batch_size * batches
    return DataLoader(TensorDataset(data.x_train[:n], data.y_train[:n]), batch_size=batch_size)


class SequenceClassifier(nn.Module):
    """A GRU over the rows of a digit image, then a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(8, 16, batch_first=True)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.view(len(x), 8, 8))
        return self.head(out[:, -1])


def watched(run: Callable[[], object]) -> diagnostics.Report:
    with diagnostics.watch() as report:
        run()
    assert report.internal_warnings == []
    return report


# -- grad-accumulation --------------------------------------------------------------------------
def test_a_loop_without_zero_grad_is_reported_once_at_its_step_line():
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with diagnostics.watch() as report:
        for x, y in regression_loader():
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()  # stale: script
    finding = single(report, "grad-accumulation")
    assert finding.count == 5  # 6 steps, each after the first reuses the earlier gradients
    assert_points_at(finding, "stale: script")
    assert "zero_grad()" in finding.fix
    norms = dict(finding.series)["gradient norm at each step"]
    assert len(norms) == 6
    assert norms[-1] > 2 * norms[0]  # the gradient piles up


class ForgetfulTrainer:
    """A trainer whose step forgets to clear the gradients."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        self.loss_fn = nn.CrossEntropyLoss()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.model.train()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.optimizer.step()  # stale: trainer
        return loss.item()


def test_a_trainer_class_without_zero_grad_is_reported_in_its_train_step():
    torch.manual_seed(0)
    trainer = ForgetfulTrainer(fixtures.SmallCNN(width=4))
    with diagnostics.watch() as report:
        for x, y in digits_loader(batches=4):
            trainer.train_step(x, y)
    finding = single(report, "grad-accumulation")
    assert finding.count == 3
    assert_points_at(finding, "stale: trainer")
    assert "Adam" in finding.message


def test_a_closure_that_forgets_zero_grad_is_reported_at_the_step_taking_it():
    torch.manual_seed(0)
    model = fixtures.MLP(64, 10, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = next(iter(digits_loader(flat=True)))

    def closure():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    with diagnostics.watch() as report:
        for _ in range(5):
            optimizer.step(closure)  # stale: closure
    finding = single(report, "grad-accumulation")
    assert finding.count == 4
    assert_points_at(finding, "stale: closure")


def test_zero_grad_called_once_before_the_loop_is_reported_for_a_recurrent_model():
    torch.manual_seed(0)
    model = SequenceClassifier()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    optimizer.zero_grad()
    with diagnostics.watch() as report:
        for x, y in digits_loader(batches=5):
            F.cross_entropy(model(x), y).backward()
            optimizer.step()  # stale: rnn
    finding = single(report, "grad-accumulation")
    assert finding.count == 4
    assert_points_at(finding, "stale: rnn")
    assert "6 of 6 tensors" in dict(finding.evidence)["parameters concerned"]


def test_plain_tensor_weights_in_an_optimizer_are_checked_too():
    torch.manual_seed(0)
    w = torch.zeros(8, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=0.05)
    with diagnostics.watch() as report:
        for x, y in regression_loader():
            F.mse_loss(F.linear(x, w.t(), b), y).backward()
            optimizer.step()  # stale: functional
    assert_points_at(single(report, "grad-accumulation"), "stale: functional")


def test_missing_zero_grad_with_clipping_between_backward_and_step_is_still_reported():
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with diagnostics.watch() as report:
        for x, y in regression_loader():
            F.mse_loss(model(x), y).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    assert single(report, "grad-accumulation").count == 5


# -- grads-cleared-before-step ------------------------------------------------------------------
def test_zero_grad_between_backward_and_step_is_reported_at_the_step():
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with diagnostics.watch() as report:
        for x, y in regression_loader():
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.zero_grad()
            optimizer.step()  # cleared: script
    finding = single(report, "grads-cleared-before-step")
    assert finding.count == 6  # every step, the first one included
    assert dict(finding.evidence)["step"] == "1"
    assert "optimizer.step() #1 " in finding.message
    assert_points_at(finding, "cleared: script")
    assert "set to None" in finding.message
    assert report.by_code("grad-accumulation") == []


class ZeroingTrainer:
    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def fit_batch(self, x: torch.Tensor, y: torch.Tensor) -> None:
        loss = F.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.zero_grad(set_to_none=False)
        self.optimizer.step()  # cleared: trainer


def test_gradients_zeroed_in_place_before_the_step_are_reported_in_a_trainer():
    torch.manual_seed(0)
    trainer = ZeroingTrainer(fixtures.SmallCNN(width=4))
    with diagnostics.watch() as report:
        for x, y in digits_loader(batches=4):
            trainer.fit_batch(x, y)
    finding = single(report, "grads-cleared-before-step")
    # Zeros in place are told from a zero gradient by the bookkeeping, which starts at the
    # first step: every later step is reported.
    assert finding.count == 3
    assert_points_at(finding, "cleared: trainer")
    assert "zeroed in place" in finding.message


def test_gradients_set_to_none_by_hand_after_clipping_are_reported():
    torch.manual_seed(0)
    model = SequenceClassifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for x, y in digits_loader(batches=4):
            F.cross_entropy(model(x), y).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            for p in model.parameters():
                p.grad = None
            optimizer.step()  # cleared: by hand
    assert_points_at(single(report, "grads-cleared-before-step"), "cleared: by hand")


def test_a_closure_that_clears_after_backward_is_reported_at_the_step_taking_it():
    torch.manual_seed(0)
    model = fixtures.MLP(64, 10, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = next(iter(digits_loader(flat=True)))

    def closure():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        return loss

    with diagnostics.watch() as report:
        for _ in range(4):
            optimizer.step(closure)  # cleared: closure
    finding = single(report, "grads-cleared-before-step")
    assert finding.count == 4  # the closure runs inside step(), after the hooks are in place
    assert_points_at(finding, "cleared: closure")


# -- params-not-updating ------------------------------------------------------------------------
def test_an_optimizer_built_over_a_deepcopy_is_reported_once_as_a_copy():
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(copy.deepcopy(model).parameters(), lr=0.05)
    with diagnostics.watch() as report:
        for _ in range(2):
            for x, y in regression_loader():
                optimizer.zero_grad()
                F.mse_loss(model(x), y).backward()
                optimizer.step()  # idle: deepcopy
    finding = single(report, "params-not-updating")
    assert finding.count == 1
    assert_points_at(finding, "idle: deepcopy")
    assert "ever received a gradient" in finding.message
    assert "copy.deepcopy" in finding.message
    assert "0 of 4" in dict(finding.evidence)["its parameters with a gradient"]


class ListNet(nn.Module):
    """Hidden layers kept in a plain Python list: invisible to model.parameters()."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = [nn.Linear(8, 16), nn.Linear(16, 16)]
        self.head = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = torch.relu(block(x))
        return self.head(x)


def test_layers_in_a_plain_list_get_gradients_but_no_updates():
    torch.manual_seed(0)
    model = ListNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with diagnostics.watch() as report:
        for x, y in regression_loader():
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()  # orphans: list
    finding = single(report, "params-not-updating")
    assert_points_at(finding, "orphans: list")
    assert finding.message.startswith("4 parameter tensors receive gradients")
    assert "Linear.weight (16, 8)" in finding.message
    assert "run inside ListNet but are not registered in it" in finding.message
    assert "nn.ModuleList" in finding.fix


def test_a_head_replaced_after_the_optimizer_was_built_is_named():
    torch.manual_seed(0)
    model = fixtures.SmallCNN(width=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.head[2] = nn.Linear(model.head[2].in_features, 10)  # a fresh head, after the optimizer
    with diagnostics.watch() as report:
        for x, y in digits_loader(batches=5):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    finding = single(report, "params-not-updating")
    assert "head.2.weight (10, 128)" in finding.message
    assert "head.2.bias (10)" in finding.message


def test_an_rnn_trained_with_an_optimizer_over_part_of_it_is_reported():
    torch.manual_seed(0)
    model = SequenceClassifier()
    optimizer = torch.optim.Adam(model.rnn.parameters(), lr=1e-3)
    with diagnostics.watch() as report:
        for x, y in digits_loader(batches=5):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    finding = single(report, "params-not-updating")
    assert "head.weight (10, 16)" in finding.message


def test_an_optimizer_stepped_without_any_backward_is_reported():
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with diagnostics.watch() as report:
        for x, y in regression_loader():
            optimizer.zero_grad()
            F.mse_loss(model(x), y)
            optimizer.step()
    finding = single(report, "params-not-updating")
    assert "backward() never ran" in finding.message


# -- no-grad-training ---------------------------------------------------------------------------
def test_training_inside_no_grad_is_explained_and_the_error_still_raised():
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with (
        pytest.raises(RuntimeError, match="does not require grad"),
        diagnostics.watch() as report,
        torch.no_grad(),
    ):
        for x, y in regression_loader():
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()  # no graph: no_grad block
            optimizer.step()
    finding = single(report, "no-grad-training")
    assert_points_at(finding, "no graph: no_grad block")
    assert "gradient recording is off where backward() runs" in finding.message
    assert dict(finding.evidence)["grad mode at backward()"] == "off"


class NoGradTrainer:
    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

    @torch.no_grad()
    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.optimizer.zero_grad()
        F.cross_entropy(self.model(x), y).backward()  # no graph: decorated
        self.optimizer.step()


def test_a_train_step_decorated_with_no_grad_is_explained():
    trainer = NoGradTrainer(fixtures.SmallCNN(width=4))
    x, y = next(iter(digits_loader()))
    with pytest.raises(RuntimeError), diagnostics.watch() as report:
        trainer.step(x, y)
    assert_points_at(single(report, "no-grad-training"), "no graph: decorated")


def test_a_forward_pass_under_no_grad_is_named_as_the_cause():
    model = SequenceClassifier()
    x, y = next(iter(digits_loader()))
    with pytest.raises(RuntimeError), diagnostics.watch() as report:
        with torch.no_grad():
            logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()  # no graph: forward under no_grad
    finding = single(report, "no-grad-training")
    assert_points_at(finding, "no graph: forward under no_grad")
    assert "forward pass ran under torch.no_grad()" in finding.message


def test_a_detached_loss_is_named_as_the_cause():
    model = fixtures.MLP(8, 1, hidden=(16,))
    x, y = next(iter(regression_loader()))
    with pytest.raises(RuntimeError), diagnostics.watch() as report:
        prediction = model(x)
        loss = F.mse_loss(prediction, y).detach()
        loss.backward()
    assert "cut off from it" in single(report, "no-grad-training").message


def test_a_fully_frozen_model_is_named_as_the_cause():
    model = fixtures.SmallCNN(width=4).requires_grad_(False)
    x, y = next(iter(digits_loader()))
    with pytest.raises(RuntimeError), diagnostics.watch() as report:
        F.cross_entropy(model(x), y).backward()
    finding = single(report, "no-grad-training")
    assert "requires_grad=False (SmallCNN)" in finding.message
    assert "requires_grad_(True)" in finding.fix


class _Critic(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))


def test_a_discriminator_frozen_for_the_generator_and_never_unfrozen_is_named():
    # The generator still trains, but the loss that fails was made by the discriminator alone
    # since the last backward(): it is frozen, and nothing was detached by mistake.
    torch.manual_seed(0)
    G, D = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)), _Critic()
    opt_G = torch.optim.Adam(G.parameters(), lr=1e-3)
    opt_D = torch.optim.Adam(D.parameters(), lr=1e-3)
    real, z = torch.randn(32, 2), torch.randn(32, 4)
    with pytest.raises(RuntimeError), diagnostics.watch() as report:
        fake = G(z)
        D.requires_grad_(False)  # for the generator's step
        opt_G.zero_grad()
        F.binary_cross_entropy_with_logits(D(fake), torch.ones(32, 1)).backward()
        opt_G.step()
        opt_D.zero_grad()  # D is never unfrozen for its own step
        loss_real = F.binary_cross_entropy_with_logits(D(real), torch.ones(32, 1))
        loss_fake = F.binary_cross_entropy_with_logits(D(fake.detach()), torch.zeros(32, 1))
        (loss_real + loss_fake).backward()
    finding = single(report, "no-grad-training")
    assert "requires_grad=False (_Critic)" in finding.message
    assert "requires_grad_(True)" in finding.fix


def test_a_detached_student_is_named_although_a_frozen_teacher_ran_after_it():
    torch.manual_seed(0)
    student = fixtures.MLP(8, 1, hidden=(16,))
    teacher = fixtures.MLP(8, 1, hidden=(32,)).requires_grad_(False)
    x, _ = next(iter(regression_loader()))
    with pytest.raises(RuntimeError), diagnostics.watch() as report:
        prediction = student(x).detach()  # the mistake
        target = teacher(x)
        F.mse_loss(prediction, target).backward()
    assert "cut off from it" in single(report, "no-grad-training").message


def test_inference_mode_is_named_as_the_cause():
    model = fixtures.MLP(8, 1, hidden=(16,))
    x, y = next(iter(regression_loader()))
    with pytest.raises(RuntimeError), diagnostics.watch() as report:
        with torch.inference_mode():
            loss = F.mse_loss(model(x), y)
        loss.backward()
    assert "torch.inference_mode()" in single(report, "no-grad-training").message


def test_a_loss_given_requires_grad_after_a_no_grad_forward_is_reported():
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with diagnostics.watch() as report, torch.no_grad():
        for x, y in regression_loader():
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.requires_grad_(True)
            loss.backward()
            optimizer.step()
    finding = single(report, "no-grad-training")
    assert "gradient recording is off where backward() runs" in finding.message
    assert finding.fix.startswith("Take the training step out of torch.no_grad()")
    assert report.by_code("params-not-updating") == []


def test_a_loss_rebuilt_as_a_leaf_is_reported_although_nothing_crashes():
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with diagnostics.watch() as report:
        for x, y in regression_loader():
            optimizer.zero_grad()
            value = F.mse_loss(model(x), y).item()
            loss = torch.tensor(value, requires_grad=True)
            loss.backward()  # no graph: leaf loss
            optimizer.step()
    finding = single(report, "no-grad-training")
    assert finding.count == 6
    assert_points_at(finding, "no graph: leaf loss")
    assert "the loss was cut off from it" in finding.message  # by .item()
    assert report.by_code("params-not-updating") == []  # one fault, one finding


# -- non-finite-loss ----------------------------------------------------------------------------
def test_a_diverging_loss_is_reported_with_its_step_and_learning_rate():
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=3.0)
    with diagnostics.watch() as report:
        for _ in range(3):
            for x, y in regression_loader():
                optimizer.zero_grad()
                loss = F.mse_loss(model(x), y)
                loss.backward()  # non-finite: divergence
                optimizer.step()
    finding = single(report, "non-finite-loss")
    assert_points_at(finding, "non-finite: divergence")
    evidence = dict(finding.evidence)
    assert evidence["step"] == "5"
    assert evidence["loss"] == "inf"
    assert evidence["learning rate"] == "SGD lr=3"
    assert finding.count == 14  # steps 5 to 18 all ran on a non-finite loss
    losses = dict(finding.series)["loss"]
    assert len(losses) == 5 and losses[0] < losses[3]


def test_nan_in_the_data_is_named_as_the_input_of_the_first_layer():
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with diagnostics.watch() as report:
        for i, (x, y) in enumerate(regression_loader()):
            if i == 2:
                x = x.clone()
                x[0, 0] = float("nan")
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
    finding = single(report, "non-finite-loss")
    assert dict(finding.evidence)["step"] == "3"
    assert dict(finding.evidence)["first non-finite value"] == "input of 0 (Linear)"


class Log(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


def test_an_inner_module_producing_inf_is_named():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), Log(), nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = next(iter(regression_loader()))
    with diagnostics.watch() as report:
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    finding = single(report, "non-finite-loss")
    assert dict(finding.evidence)["first non-finite value"] == "output of 2 (Log)"
    # Non-finite before any step: the learning rate is filled in once the optimizer steps.
    assert dict(finding.evidence)["learning rate"] == "SGD lr=0.01"


def test_log_of_zero_in_the_loss_is_told_apart_from_the_model():
    torch.manual_seed(0)
    model = fixtures.MLP(64, 10, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = next(iter(digits_loader(flat=True)))
    with diagnostics.watch() as report:
        optimizer.zero_grad()
        logits = model(x)
        probabilities = F.softmax(logits * 1e4, dim=1)  # underflows to exact zeros
        F.nll_loss(torch.log(probabilities), y).backward()
        optimizer.step()
    finding = single(report, "non-finite-loss")
    assert "The model's output was finite" in finding.message


# -- silence on correct code --------------------------------------------------------------------
def _mlp_and_data() -> tuple[nn.Module, DataLoader]:
    torch.manual_seed(0)
    return fixtures.MLP(8, 1, hidden=(16,)), regression_loader()


def zero_grad_before_backward() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(2):
        for x, y in loader:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()


def zero_grad_at_the_end_of_the_loop() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in loader:
        F.mse_loss(model(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()


def model_zero_grad() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        model.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()


def grads_set_to_none_by_hand() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        for p in model.parameters():
            p.grad = None
        F.mse_loss(model(x), y).backward()
        optimizer.step()


def zero_grad_in_place() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        optimizer.zero_grad(set_to_none=False)
        F.mse_loss(model(x), y).backward()
        optimizer.step()


def accumulation_over_four_batches() -> None:
    model, _ = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    optimizer.zero_grad()
    for i, (x, y) in enumerate(regression_loader(batch_size=8)):
        (F.mse_loss(model(x), y) / 4).backward()
        if (i + 1) % 4 == 0:
            optimizer.step()
            optimizer.zero_grad()


def two_losses_backward_before_one_step() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        optimizer.zero_grad()
        out = model(x)
        F.mse_loss(out, y).backward(retain_graph=True)
        (0.1 * out.abs().mean()).backward()
        optimizer.step()


def lbfgs_with_a_closure() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=4)
    for x, y in loader:

        def closure(x=x, y=y):
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss

        optimizer.step(closure)


def sgd_with_a_closure() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:

        def closure(x=x, y=y):
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss

        optimizer.step(closure)


def gan_with_two_optimizers() -> None:
    torch.manual_seed(0)
    real = fixtures.two_moons(n=256).x_train
    generator = fixtures.MLP(4, 2, hidden=(16,))
    discriminator = fixtures.MLP(2, 1, hidden=(16,))
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    ones, zeros = torch.ones(32, 1), torch.zeros(32, 1)
    for i in range(6):
        batch = real[32 * i : 32 * (i + 1)]
        fake = generator(torch.randn(32, 4))
        opt_d.zero_grad()
        d_loss = F.binary_cross_entropy_with_logits(discriminator(batch), ones)
        d_loss = d_loss + F.binary_cross_entropy_with_logits(discriminator(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        F.binary_cross_entropy_with_logits(discriminator(fake), ones).backward()
        opt_g.step()


def critic_trained_on_undetached_fakes() -> None:
    # The critic's loss reaches the generator, whose optimizer only steps later: its gradients
    # are wasted, then cleared by opt_g.zero_grad(), but the generator does get updated.
    torch.manual_seed(0)
    real = fixtures.two_moons(n=512).x_train
    generator = fixtures.MLP(4, 2, hidden=(16,))
    critic = fixtures.MLP(2, 1, hidden=(16,))
    opt_g = torch.optim.RMSprop(generator.parameters(), lr=5e-5)
    opt_c = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
    for i in range(10):
        batch = real[32 * i : 32 * (i + 1)]
        opt_c.zero_grad()
        (critic(generator(torch.randn(32, 4))).mean() - critic(batch).mean()).backward()
        opt_c.step()
        if i % 5 == 4:
            opt_g.zero_grad()
            (-critic(generator(torch.randn(32, 4))).mean()).backward()
            opt_g.step()


def critic_steps_five_times_per_generator_step() -> None:
    torch.manual_seed(0)
    real = fixtures.two_moons(n=512).x_train
    generator = fixtures.MLP(4, 2, hidden=(16,))
    critic = fixtures.MLP(2, 1, hidden=(16,))
    opt_g = torch.optim.RMSprop(generator.parameters(), lr=5e-5)
    opt_c = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
    for i in range(10):
        batch = real[32 * i : 32 * (i + 1)]
        opt_c.zero_grad()
        fake = generator(torch.randn(32, 4)).detach()
        (critic(fake).mean() - critic(batch).mean()).backward()
        opt_c.step()
        if i % 5 == 4:
            opt_g.zero_grad()
            (-critic(generator(torch.randn(32, 4))).mean()).backward()
            opt_g.step()


def clipping_between_backward_and_step() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(3):
        for x, y in loader:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
            nn.utils.clip_grad_value_(model.parameters(), clip_value=0.1)
            optimizer.step()


def grad_scaler_skipping_a_step() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu")
    for i, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        if i == 0:  # a NaN gradient with a finite loss: the scaler skips this step
            loss = loss + torch.sqrt(model[0].weight * 0).sum()
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()


def frozen_backbone_not_in_the_optimizer() -> None:
    torch.manual_seed(0)
    model = fixtures.SmallCNN(width=4)
    model.features.requires_grad_(False)
    optimizer = torch.optim.SGD(model.head.parameters(), lr=0.05)
    for x, y in digits_loader(batches=5):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def frozen_parameters_left_in_the_optimizer() -> None:
    torch.manual_seed(0)
    model = fixtures.SmallCNN(width=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.features.requires_grad_(False)
    for x, y in digits_loader(batches=5):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def an_optimizer_over_frozen_parameters_only() -> None:
    torch.manual_seed(0)
    model = fixtures.SmallCNN(width=4)
    opt_features = torch.optim.SGD(model.features.parameters(), lr=0.01)
    opt_head = torch.optim.SGD(model.head.parameters(), lr=0.05)
    model.features.requires_grad_(False)  # warm up the head first
    for x, y in digits_loader(batches=5):
        opt_features.zero_grad()
        opt_head.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt_features.step()
        opt_head.step()


def manual_updates_without_an_optimizer() -> None:
    model, loader = _mlp_and_data()
    for x, y in loader:
        F.mse_loss(model(x), y).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.05 * p.grad
        model.zero_grad()


def a_manually_updated_parameter_beside_an_optimizer() -> None:
    model, loader = _mlp_and_data()
    scale = nn.Parameter(torch.ones(1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        optimizer.zero_grad()
        scale.grad = None
        F.mse_loss(model(x) * scale, y).backward()
        optimizer.step()
        with torch.no_grad():
            scale -= 0.01 * scale.grad


def distillation_from_a_frozen_teacher() -> None:
    torch.manual_seed(0)
    teacher = fixtures.MLP(64, 10, hidden=(32,)).eval()
    student = fixtures.MLP(64, 10, hidden=(8,))
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)
    for x, y in digits_loader(flat=True):
        with torch.no_grad():
            soft = F.softmax(teacher(x) / 2, dim=1)
        optimizer.zero_grad()
        logits = student(x)
        loss = F.cross_entropy(logits, y) + F.kl_div(
            F.log_softmax(logits / 2, dim=1), soft, reduction="batchmean"
        )
        loss.backward()
        optimizer.step()


def distillation_from_an_eval_mode_teacher_in_the_graph() -> None:
    torch.manual_seed(0)
    teacher = fixtures.MLP(64, 10, hidden=(32,)).eval()
    student = fixtures.MLP(64, 10, hidden=(8,))
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)
    for x, _ in digits_loader(flat=True):
        optimizer.zero_grad()
        F.mse_loss(student(x), teacher(x)).backward()
        optimizer.step()


def ema_copy_of_the_model() -> None:
    model, loader = _mlp_and_data()
    ema = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters(), strict=True):
                e.mul_(0.9).add_(p, alpha=0.1)
    with torch.no_grad():
        ema(next(iter(loader))[0])


def an_unused_layer_in_the_optimizer() -> None:
    torch.manual_seed(0)
    model = SequenceClassifier()
    model.spare = nn.Linear(16, 10)  # registered, never called
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in digits_loader(batches=4):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def truncated_backprop_through_time() -> None:
    torch.manual_seed(0)
    rnn, head = nn.GRU(8, 16, batch_first=True), nn.Linear(16, 8)
    optimizer = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-3)
    series = torch.sin(torch.linspace(0, 20, 8 * 41)).view(1, 41, 8)
    hidden = None
    for t in range(0, 40, 8):
        optimizer.zero_grad()
        out, hidden = rnn(series[:, t : t + 8], hidden)
        hidden = hidden.detach()
        F.mse_loss(head(out), series[:, t + 1 : t + 9]).backward()
        optimizer.step()


def adversarial_inputs_with_requires_grad() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        x = x.clone().requires_grad_()
        F.mse_loss(model(x), y).backward()
        x_adv = (x + 0.1 * x.grad.sign()).detach()
        optimizer.zero_grad()
        F.mse_loss(model(x_adv), y).backward()
        optimizer.step()


def evaluation_after_training() -> None:
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            F.mse_loss(model(x), y)


CORRECT = [
    zero_grad_before_backward,
    zero_grad_at_the_end_of_the_loop,
    model_zero_grad,
    grads_set_to_none_by_hand,
    zero_grad_in_place,
    accumulation_over_four_batches,
    two_losses_backward_before_one_step,
    lbfgs_with_a_closure,
    sgd_with_a_closure,
    gan_with_two_optimizers,
    critic_steps_five_times_per_generator_step,
    critic_trained_on_undetached_fakes,
    clipping_between_backward_and_step,
    grad_scaler_skipping_a_step,
    frozen_backbone_not_in_the_optimizer,
    frozen_parameters_left_in_the_optimizer,
    an_optimizer_over_frozen_parameters_only,
    manual_updates_without_an_optimizer,
    a_manually_updated_parameter_beside_an_optimizer,
    distillation_from_a_frozen_teacher,
    distillation_from_an_eval_mode_teacher_in_the_graph,
    ema_copy_of_the_model,
    an_unused_layer_in_the_optimizer,
    truncated_backprop_through_time,
    adversarial_inputs_with_requires_grad,
    evaluation_after_training,
]


@pytest.mark.parametrize("loop", CORRECT, ids=[f.__name__ for f in CORRECT])
def test_correct_training_gets_no_gradient_finding(loop):
    report = watched(loop)
    assert report.codes() & CODES == set(), [f"{f.location} {f.message}" for f in report.findings]


def test_the_scaler_skipped_step_really_was_skipped():
    # The pattern above relies on GradScaler skipping its first step on this machine.
    model, loader = _mlp_and_data()
    before = model[0].weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu")
    x, y = next(iter(loader))
    loss = F.mse_loss(model(x), y) + torch.sqrt(model[0].weight * 0).sum()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    assert torch.isfinite(loss)
    assert torch.equal(model[0].weight, before)


# -- the watch changes nothing ------------------------------------------------------------------
def _train_everything(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = fixtures.MLP(64, 10, hidden=(32,), dropout=0.2, batch_norm=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.9)
    for _ in range(2):
        for i, (x, y) in enumerate(digits_loader(batch_size=16, batches=8, flat=True)):
            (F.cross_entropy(model(x), y) / 2).backward()
            if i % 2 == 1:
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
        scheduler.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_training_under_watch_ends_with_bit_identical_parameters():
    plain = _train_everything(seed=3)
    with diagnostics.watch():
        watched_state = _train_everything(seed=3)
    assert plain.keys() == watched_state.keys()
    assert all(torch.equal(plain[k], watched_state[k]) for k in plain)


def test_gradient_hooks_are_removed_when_the_watch_ends():
    model, loader = _mlp_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with diagnostics.watch():
        for x, y in loader:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
    assert all(not p._post_accumulate_grad_hooks for p in model.parameters())


def test_gradients_cleared_through_data_in_old_style_code_are_silent():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with diagnostics.watch() as report:
        for x, y in regression_loader():
            F.mse_loss(model(x), y).backward()
            optimizer.step()
            for p in model.parameters():
                p.grad.data.zero_()  # bypasses the version counter
    assert not report.codes() & CODES, report.findings


def test_a_generator_of_losses_given_to_autograd_backward_still_trains():
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    x = torch.randn(8, 4)
    with diagnostics.watch():
        losses = (model(x).pow(2).mean() for _ in range(2))
        torch.autograd.backward(losses)
    assert model.weight.grad is not None and bool(model.weight.grad.any())


def test_clearing_only_one_submodule_of_an_optimizer_is_reported_at_the_step():
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(8, 4), nn.ReLU())
    decoder = nn.Linear(4, 1)
    optimizer = torch.optim.SGD([*encoder.parameters(), *decoder.parameters()], lr=0.01)
    with diagnostics.watch() as report:
        for x, y in regression_loader():
            encoder.zero_grad()  # the decoder's gradients are never cleared
            F.mse_loss(decoder(encoder(x)), y).backward()
            optimizer.step()  # partly-stale-step
    finding = single(report, "grad-accumulation")
    assert_points_at(finding, "partly-stale-step")
    assert "2 of 4 tensors" in dict(finding.evidence)["parameters concerned"]


@pytest.mark.parametrize("micro_batches", [1, 3])
def test_clearing_every_submodule_by_hand_is_silent(micro_batches):
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(8, 4), nn.ReLU())
    decoder = nn.Linear(4, 1)
    optimizer = torch.optim.SGD([*encoder.parameters(), *decoder.parameters()], lr=0.01)
    with diagnostics.watch() as report:
        for i, (x, y) in enumerate(regression_loader(batch_size=16)):
            F.mse_loss(decoder(encoder(x)), y).backward()
            if (i + 1) % micro_batches == 0:
                optimizer.step()
                encoder.zero_grad()
                decoder.zero_grad()
    assert not report.codes() & CODES, report.findings


def test_a_head_in_no_optimizer_is_reported_by_name_after_a_final_eval_and_a_restore():
    # The transfer-learning tutorial: optimizer built before model.fc is replaced, best
    # weights restored with load_state_dict() at the end, the model left in eval mode.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model[2] = nn.Linear(16, 2)
    x, y = torch.randn(64, 8), torch.randint(0, 2, (64,))
    with diagnostics.watch() as report:
        best = copy.deepcopy(model.state_dict())
        for _ in range(6):
            model.train()
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            model.eval()
            with torch.no_grad():
                model(x)
            best = copy.deepcopy(model.state_dict())
        model.load_state_dict(best)
    finding = single(report, "params-not-updating")
    names = dict(finding.evidence)["parameters in no optimizer"]
    assert names == "2.weight (2, 16), 2.bias (2)"


def test_parameters_updated_by_hand_every_step_are_not_reported_even_after_a_restore():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    head = model[2]
    optimizer = torch.optim.SGD(model[0].parameters(), lr=0.05)
    x, y = torch.randn(64, 8), torch.randn(64, 1)
    with diagnostics.watch() as report:
        best = copy.deepcopy(model.state_dict())
        for _ in range(6):
            optimizer.zero_grad()
            head.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
            with torch.no_grad():
                for p in head.parameters():
                    p -= 0.05 * p.grad
        model.load_state_dict(best)
    assert report.findings == []


# -- orphans of a model made inside a function, or of a second phase ---------------------------
def _train(model: nn.Module, optimizer: torch.optim.Optimizer, epochs: int = 2) -> None:
    for _ in range(epochs):
        for x, y in regression_loader():
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()


def test_orphans_of_a_model_made_and_dropped_inside_main_are_still_reported():
    def main() -> None:  # the usual layout: the model is gone when the watch ends
        torch.manual_seed(0)
        model = fixtures.MLP(8, 1, hidden=(16,))
        optimizer = torch.optim.SGD(list(model.parameters())[:-2], lr=0.05)  # head left out
        _train(model, optimizer)

    with diagnostics.watch() as report:
        main()
    finding = single(report, "params-not-updating")
    assert finding.message.startswith("2 parameter tensors receive gradients")
    assert "2.weight (1, 16)" in finding.message
    assert dict(finding.evidence)["optimizers"].startswith("SGD")


def test_a_second_phase_that_leaves_the_trainable_body_out_of_its_optimizer_is_reported():
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(16, 16))
    with diagnostics.watch() as report:
        _train(model, torch.optim.Adam(model.parameters(), lr=1e-2))  # pretraining, whole
        head = list(model.parameters())[-2:]
        _train(model, torch.optim.SGD(head, lr=0.05))  # fine-tuning: the body still gets grads
    finding = single(report, "params-not-updating")
    assert finding.message.startswith("4 parameter tensors receive gradients")
    assert "0.weight (16, 8)" in finding.message


@pytest.mark.parametrize("body", ["frozen", "replaced head"])
def test_a_second_phase_over_a_frozen_body_or_a_new_head_is_silent(body):
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(16, 16))
    with diagnostics.watch() as report:
        _train(model, torch.optim.Adam(model.parameters(), lr=1e-2))
        if body == "frozen":
            for layer in list(model)[:-1]:
                layer.requires_grad_(False)
            _train(model, torch.optim.SGD(model[-1].parameters(), lr=0.05))
        else:  # the old head stays trainable but no longer runs
            new = nn.Sequential(*list(model)[:-1], nn.Linear(16, 1))
            _train(new, torch.optim.SGD(new.parameters(), lr=0.05))
    assert not report.codes(), report.codes()
