"""shape-mismatch: a crash on shapes is explained with the shapes, the module and the cause."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import diagnostics
from tests.helpers import assert_points_at, crash_report, only_finding

CODES = {"device-mismatch", "shape-mismatch"}


def shape_finding(report: diagnostics.Report, marker: str) -> diagnostics.Finding:
    """The shape-mismatch finding, alone of the crash codes, at the line marked ``marker``."""
    finding = only_finding(report, "shape-mismatch", among=CODES)
    assert_points_at(finding, marker)
    return finding


class SmallCNN(nn.Module):
    """Conv-BN-ReLU, pool, then a head that expects ``flat`` features (16 * 4 * 4 is right)."""

    def __init__(self, channels: int = 1, flat: int = 16 * 4 * 4) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(flat, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # cnn-forward


# -- Linear ----------------------------------------------------------------------------------------
def test_wrong_flatten_size_names_the_layer_and_the_actual_flattened_size():
    model = SmallCNN(flat=128)
    finding = shape_finding(crash_report(lambda: model(torch.randn(4, 1, 8, 8))), "cnn-forward")
    assert "head.2 (Linear) is built with in_features=128" in finding.message
    assert "(4, 256) has 256 features per sample" in finding.message
    assert "flatten size" in finding.message
    assert "nn.Linear(256, 10)" in finding.fix
    assert ("module", "head.2 (Linear)") in finding.evidence


def test_wrong_flatten_size_in_a_custom_forward_points_at_the_forward_line():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 8, 3)
            self.fc = nn.Linear(8 * 8 * 8, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.conv(x)).flatten(1)
            return self.fc(h)  # custom-linear

    model = Net()
    finding = shape_finding(crash_report(lambda: model(torch.randn(2, 1, 8, 8))), "custom-linear")
    assert "fc (Linear) is built with in_features=512" in finding.message
    assert "h (2, 288)" in finding.message
    assert "nn.Linear(288, 10)" in finding.fix


def test_images_into_an_mlp_are_told_to_be_flattened():
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    images = torch.randn(4, 1, 8, 8)

    def step() -> None:
        model(images)  # mlp-images

    finding = shape_finding(crash_report(step), "mlp-images")
    assert "0 (Linear) expects (N, 64) inputs but got images (4, 1, 8, 8)" in finding.message
    assert "nn.Flatten()" in finding.fix


def test_linear_after_a_linear_of_another_width_names_the_producer():
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(16, 2))

    def step() -> None:
        model(torch.randn(5, 8))  # mlp-widths

    finding = shape_finding(crash_report(step), "mlp-widths")
    assert "2 (Linear) is built with in_features=16" in finding.message
    assert "(0 (Linear) outputs 32)" in finding.message
    assert "nn.Linear(32, 2)" in finding.fix


def test_functional_linear_with_a_wrong_weight_shows_both_shapes():
    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(3, 6))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.linear(x, self.weight)  # functional-linear

    head = Head()
    finding = shape_finding(crash_report(lambda: head(torch.randn(2, 5))), "functional-linear")
    assert "F.linear() is built with in_features=6" in finding.message
    assert "x (2, 5) has 5 features" in finding.message


def test_plain_matmul_shows_the_operands_and_the_inner_sizes():
    a, b = torch.randn(3, 4), torch.randn(5, 6)

    def step() -> None:
        a @ b  # matmul

    finding = shape_finding(crash_report(step), "matmul")
    assert "a (3, 4) and b (5, 6) cannot be multiplied" in finding.message
    assert "inner sizes 4 and 5" in finding.message


# -- convolutions ----------------------------------------------------------------------------------
def test_channels_last_images_into_a_conv_are_told_to_permute():
    model = SmallCNN()
    batch = torch.randn(4, 8, 8, 1)

    def step() -> None:
        model(batch)

    finding = shape_finding(crash_report(step), "cnn-forward")
    assert "features.0 (Conv2d) got x (4, 8, 8, 1), which looks channels-last" in finding.message
    assert "x = x.permute(0, 3, 1, 2)" in finding.fix


def test_channels_last_into_functional_conv2d_uses_the_users_name():
    images = torch.randn(2, 8, 8, 3)
    weight = torch.randn(4, 3, 3, 3)

    def step() -> None:
        F.conv2d(images, weight)  # functional-conv

    finding = shape_finding(crash_report(step), "functional-conv")
    assert "F.conv2d got images (2, 8, 8, 3), which looks channels-last" in finding.message
    assert "images = images.permute(0, 3, 1, 2)" in finding.fix


def test_missing_channel_dimension_is_told_to_unsqueeze():
    model = SmallCNN()
    finding = shape_finding(crash_report(lambda: model(torch.randn(4, 8, 8))), "cnn-forward")
    assert "x (4, 8, 8), which has no channel dimension" in finding.message
    assert "x = x.unsqueeze(1)" in finding.fix


def test_conv_in_channels_that_differ_from_the_previous_layer_are_named():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(16, 8, 3))

    def step() -> None:
        model(torch.randn(2, 3, 10, 10))  # conv-channels

    finding = shape_finding(crash_report(step), "conv-channels")
    assert "2 (Conv2d) is built with in_channels=16" in finding.message
    assert "0 (Conv2d) outputs 8 channels" in finding.message
    assert "in_channels=8" in finding.fix


def test_flat_vectors_into_a_conv_are_told_to_become_images():
    model = SmallCNN()
    finding = shape_finding(crash_report(lambda: model(torch.randn(4, 64))), "cnn-forward")
    assert "the samples look flattened" in finding.message
    assert "x.view(-1, 1, 8, 8)" in finding.fix


def test_feature_map_smaller_than_the_kernel_suggests_padding_or_fewer_pools():
    model = nn.Sequential(nn.Conv2d(1, 4, 5), nn.MaxPool2d(2), nn.Conv2d(4, 4, 5))

    def step() -> None:
        model(torch.randn(2, 1, 8, 8))  # too-small

    finding = shape_finding(crash_report(step), "too-small")
    assert "2 (Conv2d) gets a feature map (2, 4, 2, 2) smaller than its window" in finding.message
    assert "padding" in finding.fix


# -- other layers ---------------------------------------------------------------------------------
def test_recurrent_input_size_names_the_layout_it_reads():
    lstm = nn.LSTM(4, 8, batch_first=True)
    seq = torch.randn(2, 3, 5)

    def step() -> None:
        lstm(seq)  # lstm-size

    finding = shape_finding(crash_report(step), "lstm-size")
    assert "lstm (LSTM) is built with input_size=4 but its input (2, 3, 5)" in finding.message
    assert "batch_first=True it reads (N, L, features)" in finding.message
    assert "input_size=5" in finding.fix


def test_layer_norm_of_the_wrong_width_gives_the_right_one():
    norm = nn.LayerNorm(16)

    def step() -> None:
        norm(torch.randn(4, 32))  # layer-norm

    finding = shape_finding(crash_report(step), "layer-norm")
    assert "norm (LayerNorm) normalizes the last dimensions [16]" in finding.message
    assert "nn.LayerNorm(32)" in finding.fix


# -- BatchNorm -------------------------------------------------------------------------------------
def test_batchnorm_on_a_last_batch_of_one_suggests_drop_last_in_a_trainer():
    class Trainer:
        def __init__(self) -> None:
            self.model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
            data = TensorDataset(torch.randn(9, 4), torch.randn(9, 8))
            self.loader = DataLoader(data, batch_size=4)  # 4 + 4 + 1

        def epoch(self) -> None:
            for x, _ in self.loader:
                self.model(x)  # trainer-batchnorm

    finding = shape_finding(crash_report(Trainer().epoch, ValueError), "trainer-batchnorm")
    assert "1 (BatchNorm1d) is in training mode and got a batch of one sample" in finding.message
    assert "(1, 8)" in finding.message
    assert "drop_last=True" in finding.fix
    assert "remove" not in finding.fix.lower()


def test_batchnorm_with_the_wrong_num_features_gives_the_channel_count():
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.BatchNorm2d(16))

    def step() -> None:
        model(torch.randn(2, 1, 6, 6))  # bn-features

    finding = shape_finding(crash_report(step), "bn-features")
    assert "1 (BatchNorm2d) is built with num_features=16" in finding.message
    assert "(2, 32, 4, 4) has 32 channels" in finding.message
    assert "nn.BatchNorm2d(32)" in finding.fix


def test_batchnorm1d_on_images_is_told_to_be_batchnorm2d():
    model = nn.Sequential(nn.Conv2d(1, 16, 3), nn.BatchNorm1d(16))

    def step() -> None:
        model(torch.randn(2, 1, 6, 6))  # bn1d-images

    finding = shape_finding(crash_report(step, ValueError), "bn1d-images")
    assert "1 (BatchNorm1d) got a 4-D input (2, 16, 4, 4)" in finding.message
    assert "nn.BatchNorm2d(16)" in finding.fix


# -- losses ----------------------------------------------------------------------------------------
def test_cross_entropy_target_with_an_extra_dimension_is_told_to_squeeze():
    criterion = nn.CrossEntropyLoss()
    logits, y = torch.randn(8, 3), torch.randint(0, 3, (8, 1))

    def step() -> None:
        criterion(logits, y)  # ce-target

    finding = shape_finding(crash_report(step), "ce-target")
    assert "criterion (CrossEntropyLoss) got a target y (8, 1)" in finding.message
    assert "target (N,) class indices" in finding.message
    assert "y = y.squeeze(1)" in finding.fix


def test_loss_batch_sizes_that_differ_show_both_shapes_and_the_likely_cause():
    logits, labels = torch.randn(4, 3), torch.randint(0, 3, (8,))

    def step() -> None:
        F.cross_entropy(logits, labels)  # ce-batch

    finding = shape_finding(crash_report(step, ValueError), "ce-batch")
    assert "input batch of 4 and a target batch of 8" in finding.message
    assert "input logits (4, 3), target labels (8,)" in finding.message
    assert "x.view(x.size(0), -1)" in finding.fix


def test_mse_target_of_another_width_shows_the_shapes_and_what_the_loss_expects():
    out, target = torch.randn(4, 3), torch.randn(4, 2)

    def step() -> None:
        F.mse_loss(out, target)  # mse-shapes

    with pytest.warns(UserWarning, match="target size"):
        report = crash_report(step)
    finding = shape_finding(report, "mse-shapes")
    assert "input out (4, 3) and target target (4, 2)" in finding.message
    assert "input and target of the same shape" in finding.message


def test_bce_with_logits_target_missing_a_dimension_is_told_to_unsqueeze():
    out, y = torch.randn(4, 1), torch.rand(4)

    def step() -> None:
        F.binary_cross_entropy_with_logits(out, y)  # bce-target

    finding = shape_finding(crash_report(step, ValueError), "bce-target")
    assert "input out (4, 1) and target y (4,)" in finding.message
    assert "y = y.unsqueeze(1)" in finding.fix


def test_class_target_beyond_the_outputs_names_the_number_of_classes():
    out, y = torch.randn(3, 4), torch.tensor([0, 1, 6])

    def step() -> None:
        F.cross_entropy(out, y)  # target-range

    finding = shape_finding(crash_report(step, IndexError), "target-range")
    assert "scores for 4 classes" in finding.message
    assert "a target of 6" in finding.message
    assert "out_features=7" in finding.fix


# -- views and elementwise ops ---------------------------------------------------------------------
def test_hard_coded_batch_size_in_a_view_is_named():
    x = torch.randn(5, 6)

    def step() -> None:
        x.view(8, 6)  # view-batch

    finding = shape_finding(crash_report(step), "view-batch")
    assert "this batch has 5 samples, not the hard-coded 8" in finding.message
    assert "x.view(x.size(0), -1)" in finding.fix


def test_broadcast_failure_shows_both_operands():
    scores, bias = torch.randn(4, 3), torch.randn(4, 5)

    def step() -> None:
        scores + bias  # broadcast

    finding = shape_finding(crash_report(step), "broadcast")
    assert "scores (4, 3) and bias (4, 5) cannot be combined" in finding.message
    assert "at dimension 1" in finding.message


def test_an_unlisted_shape_error_from_torch_is_still_reported():
    a, b = torch.randn(2, 3), torch.randn(2, 4)

    def step() -> None:
        torch.cat([a, b])  # cat

    finding = shape_finding(crash_report(step), "cat")
    assert "torch.cat() failed on the shapes it was given: a (2, 3) and b (2, 4)" in (
        finding.message
    )


# -- propagation and what is not a shape mismatch --------------------------------------------------
def test_the_original_exception_object_propagates():
    model = nn.Linear(4, 2)
    with pytest.raises(RuntimeError) as info, diagnostics.watch() as report:
        model(torch.randn(3, 5))
    assert "mat1 and mat2 shapes cannot be multiplied (3x5 and 4x2)" in str(info.value)
    assert report.codes() == {"shape-mismatch"}


def test_a_shape_error_raised_from_another_is_still_explained():
    model = nn.Linear(4, 2)

    def step() -> None:
        try:
            model(torch.randn(3, 5))
        except RuntimeError as err:
            raise RuntimeError("forward failed") from err

    with pytest.raises(RuntimeError, match="forward failed"), diagnostics.watch() as report:
        step()
    [finding] = report.by_code("shape-mismatch")
    assert "Linear) is built with in_features=4" in finding.message


def test_correct_training_step_reports_nothing():
    model = SmallCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        loss = F.cross_entropy(model(torch.randn(4, 1, 8, 8)), torch.tensor([0, 1, 2, 3]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert not report.codes() & CODES


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ValueError("expected shape [3, 4] for the config"), ValueError),
        (RuntimeError("size mismatch (3x4 and 5x6)"), RuntimeError),
        (KeyError("shape"), KeyError),
    ],
)
def test_unrelated_exceptions_from_user_code_report_nothing(error, kind):
    def user_code() -> None:
        raise error

    with pytest.raises(kind), diagnostics.watch() as report:
        user_code()
    assert not report.codes() & CODES


def test_an_index_out_of_range_is_not_a_shape_mismatch():
    x = torch.randn(3)
    report = crash_report(lambda: x[5], IndexError)
    assert not report.codes() & CODES
