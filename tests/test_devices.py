"""device-mismatch: a crash where tensors on different devices meet is explained.

No accelerator is needed: the "meta" device raises torch's own device errors when it meets cpu
tensors, and the accelerator wordings (CUDA) are checked by raising them from a module's
forward, where the frames hold real tensors.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
from tests._markers import line_of
from tests.helpers import crash_report, only_finding

ACCEL = "meta"  # a second device that exists on every machine
CODES = {"device-mismatch", "shape-mismatch"}
# The device-mismatch finding, alone of the crash codes, at an error, in this file.
only_device_finding = partial(only_finding, code="device-mismatch", among=CODES)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # net-forward


# -- the batch left behind -------------------------------------------------------------------------
def test_batch_not_moved_names_the_input_the_layer_both_devices_and_the_fix():
    model = Net().to(ACCEL)
    x = torch.randn(3, 4)

    def train_step() -> None:
        model(x)  # batch-not-moved

    finding = only_device_finding(crash_report(train_step))
    assert "x (input of features.0 (Linear)) is on cpu" in finding.message
    assert f"weight of features.0 (Linear) is on {ACCEL}" in finding.message
    assert "x = x.to(device)" in finding.fix
    assert "inside the loop" in finding.fix
    # The tensors meet in forward(); the evidence points at where the batch came in.
    assert finding.location.line == line_of("net-forward")
    passed_at = dict(finding.evidence)["x passed at"]
    assert passed_at.startswith(f"tests/test_devices.py:{line_of('batch-not-moved')} ")
    assert ("module", "features.0 (Linear)") in finding.evidence


def test_batch_not_moved_into_a_sequential_is_found_in_a_loop():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).to(ACCEL)
    batches = [(torch.randn(3, 4), torch.tensor([0, 1, 0])) for _ in range(2)]

    def train() -> None:
        for xb, _yb in batches:
            model(xb)  # sequential-loop

    finding = only_device_finding(crash_report(train))
    assert "xb (input of 0 (Linear)) is on cpu" in finding.message
    assert "xb = xb.to(device)" in finding.fix
    assert finding.location.line == line_of("sequential-loop")


def test_targets_not_moved_in_a_trainer_class_name_the_target_and_the_loss():
    class Trainer:
        def __init__(self) -> None:
            self.model = Net().to(ACCEL)
            self.criterion = nn.CrossEntropyLoss()

        def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            out = self.model(x.to(ACCEL))
            return self.criterion(out, y)  # trainer-target

    trainer = Trainer()
    report = crash_report(lambda: trainer.step(torch.randn(3, 4), torch.tensor([0, 1, 0])))
    finding = only_device_finding(report)
    assert "y (target of self.criterion (CrossEntropyLoss)) is on cpu" in finding.message
    assert f"out (input of self.criterion (CrossEntropyLoss)) is on {ACCEL}" in finding.message
    assert "y = y.to(device)" in finding.fix
    assert finding.location.line == line_of("trainer-target")


def test_functional_loss_on_mixed_devices_names_both_tensors():
    logits = torch.randn(3, 2, device=ACCEL)
    labels = torch.tensor([0, 1, 1])

    def step() -> None:
        F.cross_entropy(logits, labels)  # functional-loss

    finding = only_device_finding(crash_report(step))
    assert "labels (target of F.cross_entropy) is on cpu" in finding.message
    assert f"logits (input of F.cross_entropy) is on {ACCEL}" in finding.message
    assert "labels = labels.to(device)" in finding.fix
    assert finding.location.line == line_of("functional-loss")


# -- the model, or part of it, left behind ---------------------------------------------------------
def test_model_not_moved_tells_to_move_the_model_not_the_batch():
    model = nn.Sequential(nn.Linear(4, 2))
    x = torch.randn(3, 4, device=ACCEL)

    def step() -> None:
        model(x)  # model-not-moved

    finding = only_device_finding(crash_report(step))
    assert "weight of 0 (Linear) is on cpu" in finding.message
    assert f"x (input of 0 (Linear)) is on {ACCEL}" in finding.message
    assert "model.to(device)" in finding.fix
    assert "x.to(" not in finding.fix
    assert finding.location.line == line_of("model-not-moved")


def test_layer_replaced_after_moving_the_model_is_named_by_its_path():
    model = Net().to(ACCEL)
    model.head = nn.Linear(8, 2)  # built on the cpu after .to()
    x = torch.randn(3, 4, device=ACCEL)

    def step() -> None:
        model(x)  # replaced-layer

    finding = only_device_finding(crash_report(step))
    assert "weight of head (Linear) is on cpu" in finding.message
    assert "head (Linear) was probably added or replaced after model.to(device)" in finding.fix
    assert finding.location.line == line_of("net-forward")


def test_layers_in_a_plain_list_are_explained_as_unregistered():
    class ListNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = [nn.Linear(4, 8), nn.Linear(8, 2)]  # not an nn.ModuleList

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                x = layer(x)  # plain-list
            return x

    model = ListNet().to(ACCEL)
    finding = only_device_finding(crash_report(lambda: model(torch.randn(3, 4, device=ACCEL))))
    assert "weight of layer (Linear) is on cpu" in finding.message
    assert "nn.ModuleList" in finding.fix
    assert finding.location.line == line_of("plain-list")


# -- tensors made inside forward() -----------------------------------------------------------------
def test_tensor_created_inside_forward_is_told_to_use_the_input_device():
    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            mask = torch.ones(2)
            return self.fc(inputs) * mask  # created-in-forward

    model = Masked().to(ACCEL)
    finding = only_device_finding(crash_report(lambda: model(torch.randn(3, 4, device=ACCEL))))
    assert finding.message.startswith("mask is on cpu")
    assert "device=inputs.device" in finding.fix
    assert finding.location.line == line_of("created-in-forward")
    assert finding.location.function == "forward"


def test_plain_tensor_attribute_is_told_to_become_a_buffer():
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.scale = torch.ones(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x) * self.scale  # plain-attribute

    model = Scaled().to(ACCEL)
    finding = only_device_finding(crash_report(lambda: model(torch.randn(3, 4, device=ACCEL))))
    assert finding.message.startswith("self.scale is on cpu")
    assert "self.register_buffer('scale', tensor)" in finding.fix
    assert finding.location.line == line_of("plain-attribute")


def test_recurrent_layer_with_its_own_wording_names_the_input_and_the_fix():
    rnn = nn.GRU(3, 2, batch_first=True).to(ACCEL)
    seq = torch.randn(2, 5, 3)

    def step() -> None:
        rnn(seq)  # recurrent

    finding = only_device_finding(crash_report(step))
    assert "seq (input of rnn (GRU)) is on cpu" in finding.message
    assert "seq = seq.to(device)" in finding.fix
    assert finding.location.line == line_of("recurrent")


def test_an_unlisted_device_wording_from_torch_is_read_from_the_tensors():
    class Checked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(4, device=ACCEL))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # torch raises it, in words no rule knows: the tensors tell the story.
            torch._check(x.device == self.w.device, lambda: "live apart (device)")  # unlisted
            return x * self.w

    model = Checked()
    with pytest.raises(RuntimeError, match="live apart"), diagnostics.watch() as report:
        model(torch.ones(4))
    finding = only_device_finding(report)
    assert "x (input of model (Checked)) is on cpu" in finding.message
    assert f"self.w (w of model (Checked)) is on {ACCEL}" in finding.message
    assert finding.location.line == line_of("unlisted")


# -- NumPy ----------------------------------------------------------------------------------------
def test_numpy_of_a_device_tensor_is_told_to_call_cpu_first():
    loss = torch.randn(3, device=ACCEL)

    def log() -> None:
        loss.detach().numpy()  # numpy-call

    finding = only_device_finding(crash_report(log, TypeError))
    assert f"loss.detach() is on {ACCEL}" in finding.message
    assert "loss.detach().cpu().numpy()" in finding.fix
    assert ".item()" in finding.fix
    assert finding.location.line == line_of("numpy-call")


# -- the accelerators' own wordings ---------------------------------------------------------------
CUDA_MESSAGES = [
    "Expected all tensors to be on the same device, but found at least two devices, "
    "cuda:0 and cpu!",
    "Expected all tensors to be on the same device, but got mat1 is on cpu, different from "
    "other tensors on cuda:0 (when checking argument in method wrapper_CUDA_addmm)",
    "Expected all tensors to be on the same device, but found at least two devices, cpu and "
    "cuda:0! (when checking argument for argument target in method "
    "wrapper_CUDA_nll_loss_forward)",
    "Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) should be the same",
    "Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) should be the "
    "same or input should be a MKLDNN tensor and weight is a dense tensor",
    "Expected tensor for argument #1 'input' to have the same device as tensor for argument "
    "#2 'weight'; but device 0 does not equal -1 (while checking arguments for "
    "cudnn_convolution)",
]


class RaisesOnCall(nn.Module):
    """Raises a given accelerator error once it holds its input, as the real kernel would."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.error  # accelerator-raise


@pytest.mark.parametrize("text", CUDA_MESSAGES)
def test_cuda_wordings_are_recognised_and_name_the_cpu_input(text):
    model = nn.Sequential(RaisesOnCall(RuntimeError(text)))
    batch = torch.randn(3, 4)
    report = crash_report(lambda: model(batch))
    finding = only_device_finding(report)
    assert "is on cpu" in finding.message
    assert "cuda" in finding.message
    assert "0 (RaisesOnCall)" in finding.message
    assert "batch = batch.to(device)" in finding.fix
    assert finding.location.line == line_of("accelerator-raise")


def test_cuda_numpy_wording_is_explained_as_a_device_mismatch():
    text = (
        "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
        "tensor to host memory first."
    )
    model = RaisesOnCall(TypeError(text))
    report = crash_report(lambda: model(torch.randn(3, 4)), TypeError)
    finding = only_device_finding(report)
    assert "cuda:0" in finding.message
    assert ".cpu()" in finding.fix


def test_the_original_exception_object_propagates():
    error = RuntimeError(CUDA_MESSAGES[0])
    model = RaisesOnCall(error)
    with pytest.raises(RuntimeError) as info, diagnostics.watch() as report:
        model(torch.randn(3, 4))
    assert info.value is error
    assert report.codes() == {"device-mismatch"}


def test_a_device_error_raised_from_another_is_still_explained():
    model = Net().to(ACCEL)

    def step() -> None:
        try:
            model(torch.randn(3, 4))
        except RuntimeError as err:
            raise RuntimeError("training step failed") from err

    finding = only_device_finding(crash_report(step))
    assert "input of features.0 (Linear)" in finding.message


# -- on the simulated accelerator ------------------------------------------------------------------
def test_batch_left_on_the_cpu_is_explained_on_the_simulated_accelerator():
    from kata.accelerator import accelerator

    def train(device: torch.device) -> None:
        model = Net().to(device)
        for _ in range(2):
            xb = torch.randn(3, 4)
            model(xb)  # simulated-batch

    with pytest.raises(RuntimeError), accelerator() as device, diagnostics.watch() as report:
        train(device)
    finding = only_device_finding(report)
    # Named as forward() calls it where the tensors meet; the fix uses the loop's name.
    assert "x (input of features.0 (Linear)) is on cpu" in finding.message
    assert "weight of features.0 (Linear) is on cuda:0" in finding.message
    assert "xb = xb.to(device)" in finding.fix
    # The simulator's own frames are plumbing: the location is the user's forward().
    assert finding.location.line == line_of("net-forward")
    assert dict(finding.evidence)["xb passed at"].startswith(
        f"tests/test_devices.py:{line_of('simulated-batch')} "
    )


def test_numpy_on_the_simulated_accelerator_points_at_the_users_line():
    from kata.accelerator import accelerator

    with pytest.raises(TypeError), accelerator() as device, diagnostics.watch() as report:
        loss = torch.ones(3).to(device).sum()
        loss.detach().numpy()  # simulated-numpy
    finding = only_device_finding(report)
    assert "loss.detach() is on cuda:0" in finding.message
    assert "loss.detach().cpu().numpy()" in finding.fix
    assert finding.location.line == line_of("simulated-numpy")


# -- what is not a device mismatch ---------------------------------------------------------------
def test_correct_code_on_one_device_reports_nothing():
    model = Net().to(ACCEL)
    with diagnostics.watch() as report:
        out = model(torch.randn(3, 4, device=ACCEL))
        loss = F.cross_entropy(out, torch.tensor([0, 1, 0], device=ACCEL))
        scaled = loss * torch.tensor(2.0)  # a cpu scalar may meet any device
    assert scaled.device.type == ACCEL
    assert not report.codes() & CODES


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ValueError("device busy: expected all tensors to be on the same device"), ValueError),
        (KeyError("device"), KeyError),
        (RuntimeError("no device available"), RuntimeError),
    ],
)
def test_unrelated_exceptions_from_user_code_report_nothing(error, kind):
    def user_code() -> None:
        raise error

    with pytest.raises(kind), diagnostics.watch() as report:
        user_code()
    assert not report.codes() & CODES


def test_a_dtype_mismatch_is_not_a_device_mismatch():
    conv = nn.Conv2d(1, 2, 3)
    report = crash_report(lambda: conv(torch.randn(2, 1, 5, 5, dtype=torch.float64)))
    assert not report.codes() & CODES
