"""The modes family: train-mode-in-eval, eval-mode-in-training, eval-without-no-grad.

Each fault is shown in several styles (script loops, a Trainer class, functional calls, MLP,
CNN, RNN) and must be reported once, with a count, at the line of the user's forward call. The
correct patterns that look alike (frozen BatchNorm, frozen teachers, EMA copies, GANs,
adversarial inputs, BatchNorm recalibration, ...) must stay silent.
"""

from __future__ import annotations

import copy
import warnings
from functools import partial

import pytest
import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

import diagnostics
from tests import helpers
from tests._markers import line_of

MODE_CODES = {"train-mode-in-eval", "eval-mode-in-training", "eval-without-no-grad"}
# The single finding of the modes family, in this file, of any severity.
only_finding = partial(helpers.only_finding, among=MODE_CODES, severity=None)


def batches(n: int = 3, size: int = 16, features: int = 8, classes: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(size, features, generator=g), torch.randint(0, classes, (size,), generator=g))
        for _ in range(n)
    ]


def mlp(dropout: float = 0.5, batch_norm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(8, 16)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(16))
    layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(4 * 6 * 6, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def image_batches(n: int = 3):
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(8, 1, 6, 6, generator=g), torch.randint(0, 3, (8,), generator=g))
        for _ in range(n)
    ]


def train_epoch(model, optimizer, data) -> None:
    for x, y in data:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()  # train-epoch-forward
        optimizer.step()


def evaluate_properly(model, data) -> float:
    model.eval()
    with torch.no_grad():
        return sum(F.cross_entropy(model(x), y).item() for x, y in data)


# == train-mode-in-eval ===========================================================================
def evaluate_without_eval(model, data) -> list[torch.Tensor]:
    outputs = []
    with torch.no_grad():
        for x, _ in data:
            outputs.append(model(x))  # no-grad-eval-in-train-mode
    return outputs


def test_validation_under_no_grad_in_training_mode_is_reported_once_per_forward_at_the_call():
    torch.manual_seed(0)
    model, data = mlp(), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for _ in range(2):
            model.train()
            train_epoch(model, optimizer, data)
            evaluate_without_eval(model, data)

    finding = only_finding(report, "train-mode-in-eval")
    assert finding.count == 2 * len(data)
    assert finding.location.line == line_of("no-grad-eval-in-train-mode")
    assert finding.location.function == "evaluate_without_eval"
    assert "2 (Dropout p=0.5)" in finding.message
    assert "under torch.no_grad()" in finding.message
    assert dict(finding.evidence)["layers in training mode"] == "2 (Dropout p=0.5)"
    assert "test_validation_under_no_grad" in dict(finding.evidence)["called from"]
    assert "model.eval()" in finding.fix and "model.train()" in finding.fix


class Trainer:
    """Fits a CNN with BatchNorm; its validation forgets model.eval()."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def fit(self, data, epochs: int) -> None:
        for _ in range(epochs):
            self.model.train()
            train_epoch(self.model, self.optimizer, data)
            self.validate(data)

    def validate(self, data) -> None:
        with torch.inference_mode():
            for x, _ in data:
                self.model(x)  # trainer-validate


def test_batchnorm_statistics_updated_by_validation_in_a_trainer_class_are_reported():
    torch.manual_seed(0)
    model, data = SmallCNN(), image_batches()
    with diagnostics.watch() as report:
        Trainer(model).fit(data, epochs=2)

    finding = only_finding(report, "train-mode-in-eval")
    assert finding.count == 2 * len(data)
    assert finding.location.line == line_of("trainer-validate")
    assert "features.1 (BatchNorm2d)" in finding.message
    assert "head.1 (Dropout p=0.25)" in finding.message
    assert "running statistics" in finding.message
    assert "fit() at" in dict(finding.evidence)["called from"]


class FunctionalDropoutNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(8, 16), nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.dropout(F.relu(self.fc1(x)), 0.3, training=True)  # functional-dropout
        return self.fc2(x)


def test_functional_dropout_that_ignores_model_eval_is_reported_at_the_dropout_call():
    torch.manual_seed(0)
    model, data = FunctionalDropoutNet(), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        model.train()
        train_epoch(model, optimizer, data)
        evaluate_properly(model, data)

    finding = only_finding(report, "train-mode-in-eval")
    assert finding.count == len(data)
    assert finding.location.line == line_of("functional-dropout")
    assert "F.dropout(..., training=True)" in finding.message
    assert "eval mode" in finding.message
    assert "training=self.training" in finding.fix
    assert "evaluate_properly() at" in dict(finding.evidence)["called from"]


class LSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 12, num_layers=2, dropout=0.3, batch_first=True)
        self.head = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def sequence_batches(n: int = 3):
    g = torch.Generator().manual_seed(2)
    return [
        (torch.randn(4, 5, 8, generator=g), torch.randint(0, 3, (4,), generator=g))
        for _ in range(n)
    ]


def test_an_lstm_with_inter_layer_dropout_validated_in_training_mode_is_reported():
    torch.manual_seed(0)
    model, data = LSTMClassifier(), sequence_batches()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with diagnostics.watch() as report:
        train_epoch(model, optimizer, data)
        with torch.no_grad():
            scores = [model(x) for x, _ in data]  # lstm-eval
        train_epoch(model, optimizer, data)

    assert len(scores) == len(data)
    finding = only_finding(report, "train-mode-in-eval")
    assert finding.count == len(data)
    assert finding.location.line == line_of("lstm-eval")
    assert "lstm (LSTM dropout=0.3)" in finding.message


def evaluate_with_grad_in_train_mode(model, data) -> float:
    total = 0.0
    for x, y in data:
        total += F.cross_entropy(model(x), y).item()  # grad-eval-in-train-mode
    return total


def test_validation_with_gradients_in_training_mode_is_reported_when_no_backward_used_it():
    torch.manual_seed(0)
    model, data = mlp(batch_norm=True), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for _ in range(2):
            train_epoch(model, optimizer, data)
            evaluate_with_grad_in_train_mode(model, data)

    finding = only_finding(report, "train-mode-in-eval")
    assert finding.count == 2 * len(data)
    assert finding.location.line == line_of("grad-eval-in-train-mode")
    assert "whose output no backward pass used" in finding.message
    assert dict(finding.evidence)["gradients"] == "enabled"


def test_a_final_evaluation_in_training_mode_is_reported_when_the_watch_ends():
    torch.manual_seed(0)
    data = batches()

    def run() -> None:
        # The model is dropped when run() returns: the report must not depend on it living on.
        model = mlp()
        train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.1), data)
        evaluate_without_eval(model, data)

    with diagnostics.watch() as report:
        run()

    finding = only_finding(report, "train-mode-in-eval")
    assert finding.count == len(data)
    assert finding.location.line == line_of("no-grad-eval-in-train-mode")


def test_the_evidence_names_the_layers_as_they_were_during_the_faulty_forward():
    torch.manual_seed(0)
    model, data = mlp(batch_norm=True), batches()
    with diagnostics.watch() as report:
        evaluate_without_eval(model, data)
        model.eval()  # switched only after the faulty evaluation, before the watch ends

    finding = only_finding(report, "train-mode-in-eval")
    evidence = dict(finding.evidence)
    assert evidence["model"] == "Sequential (training mode)"
    assert evidence["layers in training mode"] == "3 (Dropout p=0.5), 1 (BatchNorm1d)"


class FunctionalDropoutInTrainingMode(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(self.fc(x), 0.2, training=self.training)


def test_functional_dropout_that_follows_the_mode_is_named_by_its_module_when_left_on():
    torch.manual_seed(0)
    model = FunctionalDropoutInTrainingMode()
    with diagnostics.watch() as report:
        evaluate_without_eval(model, batches())

    finding = only_finding(report, "train-mode-in-eval")
    assert "FunctionalDropoutInTrainingMode.forward: F.dropout p=0.2" in finding.message


def test_an_inference_script_that_never_calls_eval_is_reported():
    torch.manual_seed(0)
    model = mlp(batch_norm=True)
    with diagnostics.watch() as report, torch.no_grad():
        predictions = model(torch.randn(5, 8)).argmax(1)  # inference-in-train-mode

    assert predictions.shape == (5,)
    finding = only_finding(report, "train-mode-in-eval")
    assert finding.count == 1
    assert finding.location.line == line_of("inference-in-train-mode")


def test_functional_model_evaluated_with_dropout_on_under_no_grad_is_reported():
    torch.manual_seed(0)
    w1, w2 = torch.randn(8, 16, requires_grad=True), torch.randn(16, 3, requires_grad=True)

    def forward(x: torch.Tensor, training: bool) -> torch.Tensor:
        return F.dropout(x @ w1, 0.2, training=training) @ w2  # loose-functional-dropout

    with diagnostics.watch() as report:
        for x, y in batches():
            F.cross_entropy(forward(x, True), y).backward()
            with torch.no_grad():
                w1 -= 0.1 * w1.grad
                w2 -= 0.1 * w2.grad
                w1.grad = w2.grad = None
        with torch.no_grad():
            forward(torch.randn(4, 8), True)

    finding = only_finding(report, "train-mode-in-eval")
    assert finding.count == 1
    assert finding.location.line == line_of("loose-functional-dropout")
    assert "training=False" in finding.fix


def test_evaluation_in_training_mode_without_an_optimizer_is_reported_one_step_later():
    torch.manual_seed(0)
    model, data = mlp(), batches()
    with diagnostics.watch() as report:
        for _ in range(2):
            for x, y in data:
                model.zero_grad()
                F.cross_entropy(model(x), y).backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= 0.1 * p.grad
            evaluate_without_eval(model, data)

    finding = only_finding(report, "train-mode-in-eval")
    assert finding.count == 2 * len(data)


def test_deliberate_mc_dropout_is_silenced_with_allow():
    torch.manual_seed(0)
    model = mlp()
    model.eval()
    model[2].train()  # Monte Carlo dropout: sample several stochastic predictions

    def predict() -> torch.Tensor:
        with torch.no_grad():
            return torch.stack([model(torch.randn(4, 8)) for _ in range(5)]).mean(0)

    with diagnostics.watch() as report:
        predict()
    assert report.codes() & MODE_CODES == {"train-mode-in-eval"}
    with diagnostics.watch(allow=("train-mode-in-eval",)) as allowed:
        predict()
    assert allowed.codes() & MODE_CODES == set()


# == eval-mode-in-training ========================================================================
def validate(model, data) -> None:
    model.eval()
    with torch.no_grad():
        for x, _ in data:
            model(x)


def test_training_after_validation_without_model_train_is_reported_at_the_training_forward():
    torch.manual_seed(0)
    model, data = mlp(batch_norm=True), batches()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with diagnostics.watch() as report:
        model.train()
        for _ in range(3):
            for x, y in data:
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x), y)  # script-train-forward
                loss.backward()
                optimizer.step()
            validate(model, data)

    finding = only_finding(report, "eval-mode-in-training")
    assert finding.count == 2 * len(data)  # epochs 2 and 3 train in eval mode
    assert finding.location.line == line_of("script-train-forward")
    assert "1 (BatchNorm1d)" in finding.message and "3 (Dropout p=0.5)" in finding.message
    assert "Adam" in finding.message
    assert "model.train()" in finding.fix


class ForgetfulTrainer:
    """Calls model.train() once in fit(); validate() switches to eval mode."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

    def fit(self, data, epochs: int) -> None:
        self.model.train()
        for _ in range(epochs):
            self.train_epoch(data)
            validate(self.model, data)

    def train_epoch(self, data) -> None:
        for x, y in data:
            self.optimizer.zero_grad()
            F.cross_entropy(self.model(x), y).backward()  # trainer-train-forward
            self.optimizer.step()


def test_a_trainer_class_that_never_restores_training_mode_is_reported_with_its_layers():
    torch.manual_seed(0)
    model, data = SmallCNN(), image_batches()
    with diagnostics.watch() as report:
        ForgetfulTrainer(model).fit(data, epochs=2)

    finding = only_finding(report, "eval-mode-in-training")
    assert finding.count == len(data)
    assert finding.location.line == line_of("trainer-train-forward")
    layers = dict(finding.evidence)["layers in eval mode"]
    assert layers == "features.1 (BatchNorm2d), head.1 (Dropout p=0.25)"
    assert "fit() at" in dict(finding.evidence)["called from"]


def test_an_lstm_trained_in_eval_mode_is_reported():
    torch.manual_seed(0)
    model, data = LSTMClassifier(), sequence_batches()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with diagnostics.watch() as report:
        model.eval()
        for x, y in data:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()  # lstm-train-forward
            optimizer.step()

    finding = only_finding(report, "eval-mode-in-training")
    assert finding.count == len(data)
    assert finding.location.line == line_of("lstm-train-forward")
    assert "lstm (LSTM dropout=0.3)" in finding.message


# == eval-without-no-grad =========================================================================
def evaluate_with_graph(model, data) -> float:
    model.eval()
    total = 0.0
    for x, y in data:
        total += F.cross_entropy(model(x), y).item()  # eval-with-graph
    return total


def test_evaluation_in_eval_mode_with_gradients_enabled_is_an_info_finding():
    torch.manual_seed(0)
    model, data = mlp(), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for _ in range(2):
            model.train()
            train_epoch(model, optimizer, data)
            evaluate_with_graph(model, data)

    finding = only_finding(report, "eval-without-no-grad")
    assert finding.severity is diagnostics.Severity.INFO
    assert not report.failed
    assert finding.count == 2 * len(data)
    assert finding.location.line == line_of("eval-with-graph")
    assert "torch.no_grad()" in finding.fix


class Evaluator:
    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def accuracy(self, data) -> float:
        self.model.eval()
        hits = 0
        for x, y in data:
            hits += (self.model(x).argmax(1) == y).sum().item()  # evaluator-forward
        return hits / sum(len(y) for _, y in data)


def test_an_evaluator_class_without_no_grad_is_reported_once_with_a_count():
    torch.manual_seed(0)
    model, data = SmallCNN(), image_batches()
    with diagnostics.watch() as report:
        Evaluator(model).accuracy(data)

    finding = only_finding(report, "eval-without-no-grad")
    assert finding.count == len(data)
    assert finding.location.line == line_of("evaluator-forward")
    assert finding.location.function == "accuracy"


def test_an_ensemble_evaluated_without_no_grad_is_one_finding_with_a_count():
    torch.manual_seed(0)
    members = [SmallCNN().eval() for _ in range(4)]
    x = image_batches(1)[0][0]
    with diagnostics.watch() as report:
        scores = torch.stack([m(x).softmax(1) for m in members]).mean(0)  # ensemble-eval

    assert scores.shape == (len(x), 3)
    finding = only_finding(report, "eval-without-no-grad")
    assert finding.count == len(members)
    assert finding.location.line == line_of("ensemble-eval")


def test_an_lstm_inference_without_no_grad_is_reported():
    torch.manual_seed(0)
    model = LSTMClassifier().eval()
    with diagnostics.watch() as report:
        scores = model(torch.randn(2, 5, 8)).softmax(1)  # lstm-inference

    assert scores.shape == (2, 3)
    finding = only_finding(report, "eval-without-no-grad")
    assert finding.location.line == line_of("lstm-inference")


def test_an_evaluation_through_functional_call_without_no_grad_is_reported():
    # torch calls the model here, but on the user's behalf: it is the user's evaluation.
    torch.manual_seed(0)
    model = SmallCNN().eval()
    x = image_batches(1)[0][0]
    with diagnostics.watch() as report:
        params = dict(model.named_parameters())
        out = torch.func.functional_call(model, params, (x,))  # functional-eval

    assert out.shape[0] == len(x)
    finding = only_finding(report, "eval-without-no-grad")
    assert finding.location.line == line_of("functional-eval")


# == correct patterns stay silent =================================================================
@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_evaluation_in_eval_mode_under_no_grad_or_inference_mode_is_silent(context):
    torch.manual_seed(0)
    model, data = SmallCNN(), image_batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for _ in range(2):
            model.train()
            train_epoch(model, optimizer, data)
            model.eval()
            with context():
                for x, _ in data:
                    model(x)
    assert report.codes() & MODE_CODES == set()


class FineTune(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(16, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def test_frozen_batchnorm_while_the_rest_trains_is_silent():
    torch.manual_seed(0)
    model, data = FineTune(), batches()
    for p in model.backbone[1].parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with diagnostics.watch() as report:
        for _ in range(2):
            model.train()
            model.backbone.eval()
            train_epoch(model, optimizer, data)
            evaluate_properly(model, data)
    assert report.codes() & MODE_CODES == set()


def test_a_linear_probe_on_a_frozen_backbone_kept_in_eval_mode_is_silent():
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2))
    model = nn.Sequential(backbone, nn.Linear(16, 3))
    backbone.requires_grad_(False)
    optimizer = torch.optim.SGD(model[1].parameters(), lr=0.1)
    with diagnostics.watch() as report:
        model.eval()
        train_epoch(model, optimizer, batches())
    assert report.codes() & MODE_CODES == set()


@pytest.mark.parametrize("teacher_no_grad", [True, False])
def test_distillation_from_a_frozen_teacher_in_eval_mode_is_silent(teacher_no_grad):
    torch.manual_seed(0)
    teacher, student, data = mlp(batch_norm=True), mlp(dropout=0.1), batches()
    teacher.eval().requires_grad_(False)
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)
    with diagnostics.watch() as report:
        for _ in range(2):
            student.train()
            for x, y in data:
                if teacher_no_grad:
                    with torch.no_grad():
                        soft = teacher(x).softmax(1)
                else:
                    soft = teacher(x).softmax(1)
                logits = student(x)
                loss = F.cross_entropy(logits, y) + F.kl_div(
                    logits.log_softmax(1), soft, reduction="batchmean"
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            evaluate_properly(student, data)
    assert report.codes() & MODE_CODES == set()


def test_an_ema_copy_used_as_mean_teacher_and_evaluated_in_eval_mode_is_silent():
    torch.manual_seed(0)
    model, data = mlp(batch_norm=True), batches()
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for _ in range(2):
            model.train()
            ema.train()  # mean teacher: the EMA copy gives noisy targets in training mode
            for x, y in data:
                with torch.no_grad():
                    target = ema(x).softmax(1)
                loss = F.cross_entropy(model(x), y) + F.mse_loss(model(x).softmax(1), target)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
                        e.mul_(0.9).add_(p, alpha=0.1)
            evaluate_properly(ema, data)
    assert report.codes() & MODE_CODES == set()


def generator() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 8)
    )


@pytest.mark.parametrize("style", ["reuse-detached", "no-grad", "recompute-detached"])
def test_a_gan_generator_forward_for_the_discriminator_step_is_silent(style):
    torch.manual_seed(0)
    G, D = generator(), nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4)
    bce = nn.BCEWithLogitsLoss()
    real = torch.randn(16, 8)
    with diagnostics.watch() as report:
        for _ in range(3):
            z = torch.randn(16, 4)
            if style == "no-grad":
                with torch.no_grad():
                    fake = G(z)
            elif style == "recompute-detached":
                fake = G(z).detach()
            else:
                fake = G(z)
            opt_d.zero_grad()
            d_real, d_fake = D(real), D(fake.detach())
            d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
            d_loss.backward()
            opt_d.step()
            if style != "reuse-detached":
                fake = G(z)
            opt_g.zero_grad()
            d_out = D(fake)
            bce(d_out, torch.ones_like(d_out)).backward()
            opt_g.step()
    assert report.codes() & MODE_CODES == set()


def test_inference_in_eval_mode_under_no_grad_is_silent():
    torch.manual_seed(0)
    model = SmallCNN()
    with diagnostics.watch() as report:
        model.eval()
        with torch.no_grad():
            model(torch.randn(4, 1, 6, 6)).argmax(1)
    assert report.codes() & MODE_CODES == set()


def test_optimizing_an_input_through_a_model_in_eval_mode_is_silent():
    torch.manual_seed(0)
    model = SmallCNN().eval()  # parameters still require grad: the harder case
    x = torch.randn(2, 1, 6, 6, requires_grad=True)
    optimizer = torch.optim.Adam([x], lr=0.1)
    with diagnostics.watch() as report:
        for _ in range(3):
            optimizer.zero_grad()
            (-model(x)[:, 0].sum()).backward()
            optimizer.step()
        saliency = torch.autograd.grad(model(x)[:, 1].sum(), x)[0]
    assert saliency.shape == x.shape
    assert report.codes() & MODE_CODES == set()


def test_batchnorm_recalibration_with_swa_update_bn_is_silent():
    torch.manual_seed(0)
    model, data = SmallCNN(), image_batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    swa = torch.optim.swa_utils.AveragedModel(model)
    with diagnostics.watch() as report:
        train_epoch(model, optimizer, data)
        swa.update_parameters(model)
        torch.optim.swa_utils.update_bn([x for x, _ in data], swa)
        evaluate_properly(swa, data)
    assert report.codes() & MODE_CODES == set()


def test_siamese_forwards_accumulated_gradients_and_manual_updates_are_silent():
    torch.manual_seed(0)
    model, data = mlp(batch_norm=True), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        model.train()
        for x, _ in data:  # siamese: two forwards, one backward
            a, b = model(x), model(x + 0.1 * torch.randn_like(x))
            optimizer.zero_grad()
            F.mse_loss(a, b).backward()
            optimizer.step()
        optimizer.zero_grad()
        for x, y in data:  # accumulation: one step for several backwards
            F.cross_entropy(model(x), y).backward()
        optimizer.step()
        for x, y in data:  # hand-written updates
            model.zero_grad()
            F.cross_entropy(model(x), y).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
        evaluate_properly(model, data)
    assert report.codes() & MODE_CODES == set()


class Cell(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNNCell(8, 12)
        self.drop = nn.Dropout(0.2)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.drop(self.rnn(x, h))


def test_an_rnn_cell_called_step_by_step_in_training_is_silent():
    torch.manual_seed(0)
    cell, head = Cell(), nn.Linear(12, 3)
    optimizer = torch.optim.Adam([*cell.parameters(), *head.parameters()], lr=1e-3)
    with diagnostics.watch() as report:
        for x, y in sequence_batches():
            h = torch.zeros(4, 12)
            for t in range(x.shape[1]):
                h = cell(x[:, t], h)
            optimizer.zero_grad()
            F.cross_entropy(head(h), y).backward()
            optimizer.step()
    assert report.codes() & MODE_CODES == set()


@pytest.mark.parametrize("reentrant", [True, False])
def test_activation_checkpointing_of_a_training_forward_is_silent(reentrant):
    torch.manual_seed(0)
    model, data = mlp(batch_norm=True), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for x, y in data:
            x = x.requires_grad_()
            out = torch.utils.checkpoint.checkpoint(model, x, use_reentrant=reentrant)
            optimizer.zero_grad()
            F.cross_entropy(out, y).backward()
            optimizer.step()
    assert report.codes() & MODE_CODES == set()


def test_input_noise_from_a_parameter_free_dropout_module_is_silent():
    torch.manual_seed(0)
    model, noise, data = mlp(), nn.Dropout(0.1), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for x, y in data:
            with torch.no_grad():
                x = noise(x)
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    assert report.codes() & MODE_CODES == set()


def test_training_a_model_without_dropout_or_batchnorm_in_eval_mode_is_silent():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    with diagnostics.watch() as report:
        train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.1), batches())
    assert report.codes() & MODE_CODES == set()


# == the watch changes nothing ====================================================================
def _run_faulty_and_correct_training(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model, data = SmallCNN(), image_batches()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):
        model.train()
        train_epoch(model, optimizer, data)
        evaluate_without_eval(model, data)  # dropout draws and BN updates under no_grad
        evaluate_with_grad_in_train_mode(model, data)
        evaluate_with_graph(model, data)
    return model


def test_watching_changes_no_parameter_and_no_batchnorm_statistic():
    bare = _run_faulty_and_correct_training(seed=3)
    with diagnostics.watch() as report:
        watched = _run_faulty_and_correct_training(seed=3)
    assert report.codes() & MODE_CODES  # the watch did look
    for (name, a), (_, b) in zip(
        bare.state_dict().items(), watched.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


# == a training step under no_grad is no-grad-training, not an evaluation =========================
def test_a_training_step_run_under_no_grad_is_not_mistaken_for_an_evaluation():
    torch.manual_seed(0)
    model, data = mlp(), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        model.train()
        for x, y in data:
            optimizer.zero_grad()
            with torch.no_grad():
                loss = F.cross_entropy(model(x), y)
            loss.requires_grad_(True)  # the hack that silences torch's own error
            loss.backward()
            optimizer.step()
    assert not report.codes() & MODE_CODES, report.findings


# == plain models: evaluation in training mode with gradients enabled ==============================
def validate_with_graph_in_training_mode(model, data) -> float:
    return sum(F.cross_entropy(model(x), y).item() for x, y in data)  # plain-val-forward


@pytest.mark.parametrize("style", ["script", "trainer"])
def test_validation_of_a_plain_model_with_gradients_enabled_is_an_info_finding(style):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    data = batches()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with diagnostics.watch() as report:
        for _ in range(2):
            train_epoch(model, optimizer, data)
            if style == "script":
                validate_with_graph_in_training_mode(model, data)
            else:
                type(
                    "Trainer", (), {"validate": staticmethod(validate_with_graph_in_training_mode)}
                ).validate(model, data)
    finding = only_finding(report, "eval-without-no-grad")
    assert finding.location.line == line_of("plain-val-forward")
    assert "training mode" in finding.message
    assert not report.failed


def test_training_a_plain_model_and_a_gan_generator_for_the_critic_step_is_silent():
    torch.manual_seed(0)
    gen = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
    critic = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3)
    opt_c = torch.optim.Adam(critic.parameters(), lr=1e-3)
    with diagnostics.watch() as report:
        for _ in range(3):
            fake = gen(torch.randn(16, 4))
            opt_c.zero_grad()
            critic(fake.detach()).mean().backward()
            opt_c.step()
            opt_g.zero_grad()
            (-critic(gen(torch.randn(16, 4))).mean()).backward()
            opt_g.step()
    assert not report.codes() & MODE_CODES, report.findings


# == crashes and weights computed outside a forward ================================================
def test_a_training_forward_whose_loss_then_raises_is_not_called_an_evaluation():
    torch.manual_seed(0)
    model, data = mlp(), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = data[0]
    with pytest.raises(RuntimeError), diagnostics.watch() as report:
        train_epoch(model, optimizer, data)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y.view(-1, 1)).backward()  # a target column: the loss raises
    assert not report.codes() & MODE_CODES, report.findings


def test_an_evaluation_in_training_mode_before_a_crash_is_still_reported():
    torch.manual_seed(0)
    model, data = mlp(), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ZeroDivisionError), diagnostics.watch() as report:
        train_epoch(model, optimizer, data)
        evaluate_without_eval(model, data)
        train_epoch(model, optimizer, data)
        raise ZeroDivisionError
    assert only_finding(report, "train-mode-in-eval").count == len(data)


def test_spectral_norm_weights_computed_outside_a_forward_are_silent():
    torch.manual_seed(0)
    with diagnostics.watch() as report:
        critic = nn.Sequential(
            nn.utils.parametrizations.spectral_norm(nn.Linear(8, 16)),
            nn.ReLU(),
            nn.utils.parametrizations.weight_norm(nn.Linear(16, 1)),
        )
        optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)
        print(critic[0].weight.norm().item())
        for x, _ in batches():
            optimizer.zero_grad()
            critic(x).mean().backward()
            optimizer.step()
    assert not report.codes() & MODE_CODES, report.findings


def test_a_training_step_on_a_detached_loss_is_not_mistaken_for_an_evaluation():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for x, y in batches():
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y).detach().requires_grad_()
            loss.backward()
            optimizer.step()
    assert not report.codes() & MODE_CODES, report.findings


@pytest.mark.parametrize("model_kind", ["cnn", "plain"])
def test_a_shape_check_forward_before_training_is_silent(model_kind):
    torch.manual_seed(0)
    model = SmallCNN() if model_kind == "cnn" else nn.Sequential(nn.Linear(1 * 6 * 6, 3))
    data = (
        image_batches() if model_kind == "cnn" else [(x.flatten(1), y) for x, y in image_batches()]
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        print(model(data[0][0][:2]).shape)  # the output's shape, checked once before training
        for _ in range(2):
            model.train()
            train_epoch(model, optimizer, data)
    assert not report.codes() & MODE_CODES, report.findings


def test_the_same_evaluation_before_and_during_training_is_reported_from_the_first_epoch():
    torch.manual_seed(0)
    model, data = mlp(), batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        evaluate_without_eval(model, data)  # a baseline before training
        for _ in range(2):
            train_epoch(model, optimizer, data)
            evaluate_without_eval(model, data)
    assert only_finding(report, "train-mode-in-eval").count == 2 * len(data)


def test_after_many_training_steps_a_plain_evaluation_with_gradients_is_still_counted_exactly():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    data = batches(n=4)
    with diagnostics.watch() as report:
        for _ in range(40):  # 160 training forwards: the training call site is learned
            train_epoch(model, optimizer, data)
        validate_with_graph_in_training_mode(model, data)
    finding = only_finding(report, "eval-without-no-grad")
    assert finding.count == len(data)


class _Noise(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1 * torch.randn_like(x) if self.training else x


class _CarriesTheFlag(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


def _custom_model(layer: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), layer, nn.Linear(16, 1))


def _train_then_evaluate(model: nn.Module, *, call_eval: bool) -> diagnostics.Report:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    with diagnostics.watch() as report:
        for _ in range(3):
            model.train()
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
            if call_eval:
                model.eval()
            with torch.no_grad():
                model(x)
    return report


def test_a_custom_layer_that_reads_self_training_is_judged_in_evaluation():
    report = _train_then_evaluate(_custom_model(_Noise()), call_eval=False)
    assert report.codes() == {"train-mode-in-eval"}
    [finding] = report.by_code("train-mode-in-eval")
    assert "1 (_Noise)" in dict(finding.evidence)["layers in training mode"]
    assert _train_then_evaluate(_custom_model(_Noise()), call_eval=True).findings == []


def test_a_layer_that_only_carries_the_flag_is_not_judged():
    report = _train_then_evaluate(_custom_model(_CarriesTheFlag()), call_eval=False)
    assert report.findings == []


def test_a_custom_layer_left_in_eval_mode_while_training_is_reported():
    model = _custom_model(_Noise())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    model.eval()
    with diagnostics.watch() as report:
        for _ in range(3):
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
    [finding] = report.by_code("eval-mode-in-training")
    assert dict(finding.evidence)["layers in eval mode"] == "1 (_Noise)"


def test_switching_back_to_training_mode_under_no_grad_after_an_eval_pass_is_silent():
    # Monte-Carlo dropout after an eval-mode pass, with no training in between: deliberate.
    torch.manual_seed(0)
    model = _custom_model(_Noise())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    with diagnostics.watch() as report:
        for _ in range(3):
            model.train()
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
        with torch.no_grad():
            model.eval()
            point = model(x)
            model.train()
            samples = torch.stack([model(x) for _ in range(8)])
    assert samples.shape[1:] == point.shape
    assert report.findings == []


def test_a_trace_of_a_model_in_eval_mode_is_silent():
    # torch.jit.trace runs the forward with gradients on to record it: an export, not an
    # evaluation that wastes a graph.
    torch.manual_seed(0)
    model, data = SmallCNN(), image_batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        train_epoch(model, optimizer, data)
        model.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # newer torch deprecates tracing
            traced = torch.jit.trace(model, data[0][0])
    assert traced(data[0][0]).shape == model(data[0][0]).shape
    assert not report.codes()


def _quantization_engine() -> str | None:
    engines = torch.backends.quantized.supported_engines
    return next((e for e in ("fbgemm", "qnnpack", "x86") if e in engines), None)


@pytest.mark.skipif(_quantization_engine() is None, reason="no quantized engine in this build")
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")  # torch.ao
def test_quantization_aware_training_then_convert_is_silent():
    # convert() runs each weight's fake-quantize observer with gradients on, itself.
    import torch.ao.quantization as tq

    engine = _quantization_engine()
    torch.backends.quantized.engine = engine
    torch.manual_seed(0)
    model = nn.Sequential(
        tq.QuantStub(), nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2), tq.DeQuantStub()
    )
    model.qconfig = tq.get_default_qat_qconfig(engine)
    x, y = torch.randn(64, 8), torch.randint(0, 2, (64,))
    with diagnostics.watch() as report:
        model.train()
        tq.prepare_qat(model, inplace=True)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        for _ in range(5):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        model.eval()
        quantized = tq.convert(copy.deepcopy(model), inplace=False)
        with torch.no_grad():
            quantized(x)
    assert not report.codes()
