"""The simulated accelerator behaves like a GPU where the device katas can tell.

Numbers: a run on the simulated device is compared with the same run on the CPU for exact
equality (torch.equal), not closeness. The simulated device runs the CPU's own kernels on
the same data, in the same order, drawing random numbers from the same CPU generator, so
any difference at all would mean the simulation changed the computation.
"""

from __future__ import annotations

import copy
import io
import re
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import diagnostics
import kata_fixtures as fixtures
from kata.accelerator import UnsupportedOperation, accelerator, is_simulated

REAL_GPU = torch.cuda.is_available()
simulated_only = pytest.mark.skipif(REAL_GPU, reason="a real GPU is present: nothing simulated")


def on_accelerator(t: torch.Tensor) -> bool:
    """On the accelerator: cuda:0, and simulated unless a real GPU is present."""
    return t.device == torch.device("cuda", 0) and (REAL_GPU or is_simulated(t))


@pytest.fixture
def device():
    with accelerator() as dev:
        yield dev


def _train(device, make_optimizer, *, steps=6, model_fn=None, loss_fn=F.cross_entropy):
    """A few steps of a small CNN on the digits; returns the losses and final parameters."""
    torch.manual_seed(0)
    data = fixtures.digits()
    model = (model_fn or (lambda: fixtures.SmallCNN(width=4)))()
    model.to(device)
    optimizer = make_optimizer(model.parameters())
    loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    losses = []
    for step, (x, y) in enumerate(loader):
        if step == steps:
            break
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        accuracy = (model(data.x_val.to(device)).argmax(1) == data.y_val.to(device)).sum().item()
    return losses, accuracy, [p.detach().cpu() for p in model.parameters()]


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2),
    "adam-foreach": lambda p: torch.optim.Adam(p, lr=1e-2, foreach=True),
    "sgd-foreach": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, foreach=True),
}


# -- the same numbers ------------------------------------------------------------------------
@simulated_only
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_a_training_run_gives_bit_identical_numbers_on_the_cpu_and_the_simulated_device(
    optimizer,
):
    on_cpu = _train("cpu", OPTIMIZERS[optimizer])
    with accelerator() as dev:
        simulated = _train(dev, OPTIMIZERS[optimizer])

    assert simulated[0] == on_cpu[0]
    assert simulated[1] == on_cpu[1]
    assert all(torch.equal(a, b) for a, b in zip(simulated[2], on_cpu[2], strict=True))


@simulated_only
def test_an_mlp_with_dropout_softmax_and_mse_trains_identically_on_both_devices():
    def mse_on_one_hot(logits, y):
        return F.mse_loss(F.softmax(logits, dim=1), F.one_hot(y, 10).float())

    run = {"steps": 3, "model_fn": _flat_mlp, "loss_fn": mse_on_one_hot}
    on_cpu = _train("cpu", OPTIMIZERS["adam"], **run)
    with accelerator() as dev:
        simulated = _train(dev, OPTIMIZERS["adam"], **run)
    assert simulated[0] == on_cpu[0]
    assert all(torch.equal(a, b) for a, b in zip(simulated[2], on_cpu[2], strict=True))


@simulated_only
def test_a_gru_trains_on_the_simulated_device_to_within_float_rounding_of_the_cpu():
    # Not bit-identical: on the CPU, torch's recurrent layers compute the input projections of
    # all time steps in one matrix product (a CPU-only shortcut in aten's RNN code); on any
    # other device, the simulated one included, they compute them step by step, so the
    # gradients' sums are rounded in another order.
    run = {"steps": 3, "model_fn": _RowGRU}
    on_cpu = _train("cpu", OPTIMIZERS["adam"], **run)
    with accelerator() as dev:
        simulated = _train(dev, OPTIMIZERS["adam"], **run)
    assert simulated[0] == pytest.approx(on_cpu[0], rel=1e-6)
    for a, b in zip(simulated[2], on_cpu[2], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


class _RowGRU(nn.Module):
    """Reads a digit image row by row."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 12, batch_first=True)
        self.head = nn.Linear(12, 10)

    def forward(self, x):
        out, _ = self.gru(x.squeeze(1))
        return self.head(out[:, -1])


def _flat_mlp():
    return nn.Sequential(nn.Flatten(), fixtures.MLP(64, 10, hidden=(16,), dropout=0.2))


def test_the_katas_ops_run_on_the_device_and_give_the_cpus_results(device):
    torch.manual_seed(0)
    x, target = torch.randn(4, 3, 8, 8), torch.tensor([0, 2, 1, 2])
    modules = [
        nn.Conv2d(3, 5, 3, padding=1),
        nn.BatchNorm2d(5),
        nn.Embedding(10, 6),
        nn.Linear(6, 3),
    ]

    def features(d, m):
        return F.max_pool2d(F.relu(m[1](m[0](x.to(d)))), 2).flatten(1)

    def logits(d, m):
        return m[3](m[2](torch.arange(4, device=d)))

    ops = {
        "conv2d, batch_norm, relu, max_pool2d, flatten": features,
        "embedding, linear, softmax": lambda d, m: F.softmax(logits(d, m), dim=1),
        "cross_entropy": lambda d, m: F.cross_entropy(logits(d, m), target.to(d)),
        "mse_loss": lambda d, m: F.mse_loss(logits(d, m), torch.ones(4, 3, device=d)),
        "argmax, ==, float, mean": lambda d, m: (
            (logits(d, m).argmax(1) == target.to(d)).float().mean()
        ),
    }
    for name, op in ops.items():
        expected = op("cpu", modules)
        got = op(device, [copy.deepcopy(m).to(device) for m in modules])
        assert on_accelerator(got), name
        if REAL_GPU:
            torch.testing.assert_close(got.cpu(), expected, msg=name)
        else:
            assert torch.equal(got.cpu(), expected), name
    dropped = F.dropout(torch.ones(1000, device=device), 0.5)
    assert dropped.device.type == "cuda" and set(dropped.unique().tolist()) == {0.0, 2.0}


# -- mixing devices: torch's words ---------------------------------------------------------------
MIXES = {
    "pointwise op": (
        lambda d: torch.ones(3, device=d) + torch.ones(3),
        "Expected all tensors to be on the same device, but found at least two devices, "
        "cuda:0 and cpu!",
    ),
    "comparison, cpu first": (
        lambda d: torch.ones(3) == torch.ones(3, device=d),
        "Expected all tensors to be on the same device, but found at least two devices, "
        "cuda:0 and cpu!",
    ),
    "linear, input on the cpu": (
        lambda d: nn.Linear(3, 2).to(d)(torch.ones(4, 3)),
        "Expected all tensors to be on the same device, but got mat1 is on cpu, different "
        "from other tensors on cuda:0 (when checking argument in method wrapper_CUDA_addmm)",
    ),
    "linear, model on the cpu": (
        lambda d: nn.Linear(3, 2)(torch.ones(4, 3, device=d)),
        "Expected all tensors to be on the same device, but got mat1 is on cuda:0, different "
        "from other tensors on cpu (when checking argument in method wrapper_CUDA_addmm)",
    ),
    "cross_entropy, targets on the cpu": (
        lambda d: F.cross_entropy(torch.randn(4, 3, device=d), torch.tensor([0, 1, 2, 0])),
        "Expected all tensors to be on the same device, but got target is on cpu, different "
        "from other tensors on cuda:0 (when checking argument in method "
        "wrapper_CUDA_nll_loss_forward)",
    ),
    "conv2d, input on the cpu": (
        lambda d: nn.Conv2d(1, 2, 3).to(d)(torch.ones(8, 1, 8, 8)),
        "Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) should be "
        "the same or input should be a MKLDNN tensor and weight is a dense tensor",
    ),
    "conv2d, model on the cpu": (
        lambda d: nn.Conv2d(1, 2, 3)(torch.ones(8, 1, 8, 8, device=d)),
        "Input type (torch.cuda.FloatTensor) and weight type (torch.FloatTensor) should be "
        "the same",
    ),
    "embedding, indices on the cpu": (
        lambda d: nn.Embedding(5, 2).to(d)(torch.tensor([1, 2])),
        "Expected all tensors to be on the same device, but got index is on cpu, different "
        "from other tensors on cuda:0 (when checking argument in method "
        "wrapper_CUDA__index_select)",
    ),
    "cat": (
        lambda d: torch.cat([torch.ones(2, device=d), torch.ones(2)]),
        "Expected all tensors to be on the same device, but got tensors is on cpu, different "
        "from other tensors on cuda:0 (when checking argument in method wrapper_CUDA_cat)",
    ),
    "gru, hidden state on the cpu": (
        lambda d: nn.GRU(2, 3).to(d)(torch.ones(4, 1, 2, device=d), torch.zeros(1, 1, 3)),
        "Input and hidden tensors are not at the same device, found input tensor at cuda:0 "
        "and hidden tensor at cpu",
    ),
    "indexing a cpu tensor with accelerator indices": (
        lambda d: torch.ones(3)[torch.tensor([0], device=d)],
        "indices should be either on cpu or on the same device as the indexed tensor (cpu)",
    ),
}


@pytest.mark.parametrize("case", sorted(MIXES))
def test_mixing_devices_raises_torchs_own_error_word_for_word(device, case):
    make, message = MIXES[case]
    with pytest.raises(RuntimeError) as caught:
        make(device)
    assert str(caught.value) == message


def test_a_cpu_number_tensor_may_join_an_accelerator_tensor_as_on_a_gpu(device):
    x = torch.ones(3, device=device)
    assert (x * torch.tensor(2.0)).device == x.device
    assert (x + 1).sum().item() == 6.0
    assert x[torch.tensor([0, 2])].device == x.device  # cpu indices are fine on a gpu too
    host = torch.zeros(3)
    host.copy_(x)  # copies cross devices by design
    assert host.tolist() == [1.0, 1.0, 1.0]


# -- host memory ----------------------------------------------------------------------------------
NUMPY_MESSAGE = (
    "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to "
    "host memory first."
)


def test_numpy_of_an_accelerator_tensor_raises_torchs_type_error(device):
    x = torch.arange(3.0, device=device)
    with pytest.raises(TypeError, match=re.escape(NUMPY_MESSAGE)):
        x.numpy()
    with pytest.raises(TypeError, match=re.escape(NUMPY_MESSAGE)):
        np.asarray(x)
    assert x.cpu().numpy().tolist() == [0.0, 1.0, 2.0]
    assert x.numpy(force=True).tolist() == [0.0, 1.0, 2.0]
    assert x.tolist() == [0.0, 1.0, 2.0]
    assert x.sum().item() == 3.0
    assert f"{x.sum():.2f}" == "3.00"


@simulated_only
def test_an_op_without_a_cpu_kernel_fails_naming_the_op(device):
    x, w = torch.ones(1, 1, 4, 4, device=device), torch.ones(1, 1, 3, 3, device=device)
    with pytest.raises(UnsupportedOperation) as caught:
        torch.cudnn_convolution(x, w, (0, 0), (1, 1), (1, 1), 1, False, False, True)
    assert str(caught.value).startswith(
        "the simulated accelerator does not support aten.cudnn_convolution"
    )


# -- putting tensors on the device ----------------------------------------------------------------
def test_code_that_picks_its_device_the_usual_way_gets_the_accelerator(device):
    assert torch.cuda.is_available() and torch.accelerator.is_available()
    chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x = torch.randn(2, 3).to(chosen)
    assert x.device == torch.device("cuda", 0) and x.is_cuda
    assert x.get_device() == 0 and x.type() == "torch.cuda.FloatTensor"
    assert repr(torch.tensor([1.0, 2.0]).cuda()) == "tensor([1., 2.], device='cuda:0')"
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        torch.zeros(1, device="cuda:1")


def test_factories_with_an_accelerator_device_make_accelerator_tensors(device):
    like = torch.ones(2, 2, device=device)
    made = [
        torch.zeros(2, device=device),
        torch.ones(2, device="cuda"),
        torch.empty(2, device=torch.device("cuda", 0)),
        torch.full((2,), 3.0, device=device),
        torch.arange(4, device=device),
        torch.randn(2, device=device),
        torch.randint(0, 5, (2,), device=device),
        torch.tensor([1, 2], device=device),
        torch.as_tensor(np.ones(2), device=device),
        torch.zeros_like(like),
        torch.randn_like(like),
        like.new_zeros(3),
        like.new_tensor([1.0]),
        torch.zeros(2).to(like),
    ]
    assert all(on_accelerator(t) for t in made)
    assert torch.zeros_like(like, device="cpu").device == torch.device("cpu")
    leaf = torch.zeros(2, device=device, requires_grad=True)
    assert leaf.requires_grad and leaf.is_leaf


def test_seeded_random_numbers_match_the_cpus(device):
    torch.manual_seed(3)
    on_cpu = torch.randn(5)
    torch.manual_seed(3)
    assert torch.equal(torch.randn(5, device=device).cpu(), on_cpu)


def test_gradients_flow_back_through_moves_in_both_directions(device):
    w = torch.ones(3, requires_grad=True)
    (w.to(device) * 2).sum().backward()
    assert w.grad.tolist() == [2.0, 2.0, 2.0] and w.grad.device.type == "cpu"
    v = torch.ones(3, device=device, requires_grad=True)
    (v.cpu() * 3).sum().backward()
    assert v.grad.device == torch.device("cuda", 0) and v.grad.tolist() == [3.0, 3.0, 3.0]


def test_dataloader_batches_moved_with_to_land_on_the_accelerator(device):
    data = TensorDataset(torch.randn(10, 3), torch.arange(10))
    for workers, pin in ((0, False), (0, True), (1, True)):
        for x, y in DataLoader(data, batch_size=4, num_workers=workers, pin_memory=pin):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            assert on_accelerator(x) and on_accelerator(y)


# -- moving models ---------------------------------------------------------------------------------
def test_model_to_device_moves_the_same_parameter_objects_with_their_gradients(device):
    model = nn.Linear(3, 2)
    model(torch.randn(4, 3)).sum().backward()
    before = list(model.parameters())

    model.to(device)

    assert [id(p) for p in model.parameters()] == [id(p) for p in before]
    assert all(isinstance(p, nn.Parameter) and on_accelerator(p) for p in model.parameters())
    assert all(p.grad is not None and p.grad.device.type == "cuda" for p in model.parameters())
    model.cpu()
    assert [id(p) for p in model.parameters()] == [id(p) for p in before]
    assert all(type(p) is nn.Parameter for p in model.parameters())


def test_moving_the_model_after_building_the_optimizer_trains_exactly_as_moving_it_before():
    def run(move_first):
        torch.manual_seed(0)
        data = fixtures.regression(n=128)
        with accelerator() as dev:
            model = fixtures.MLP(8, 1, hidden=(16,))
            if move_first:
                model.to(dev)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
            if not move_first:
                model.to(dev)  # after the optimizer: the parameters move in place
            x, y = data.x_train.to(dev), data.y_train.to(dev)
            losses = []
            for _ in range(20):
                optimizer.zero_grad()
                loss = F.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            held = [p for g in optimizer.param_groups for p in g["params"]]
            assert [id(p) for p in held] == [id(p) for p in model.parameters()]
            return losses

    after = run(move_first=False)
    assert after == run(move_first=True)
    assert after[-1] < 0.5 * after[0]


def test_state_dicts_copies_and_checkpoints_of_an_accelerator_model_work(device):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).to(device)
    state = model.state_dict()
    assert all(t.device.type == "cuda" for t in state.values())
    twin = copy.deepcopy(model)
    assert all(on_accelerator(p) for p in twin.parameters())
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer)  # saved as CPU tensors: loads without map_location
    model.load_state_dict(loaded)
    assert all(
        torch.equal(a.cpu(), b) for a, b in zip(state.values(), loaded.values(), strict=True)
    )


# -- in and out ------------------------------------------------------------------------------------
@simulated_only
def test_outside_the_block_nothing_is_patched_even_after_an_error():
    originals = (
        torch.cuda.is_available,
        torch.cuda.device_count,
        torch.cuda.manual_seed_all,
        torch.accelerator.current_stream,
        torch.backends.cudnn.is_acceptable,
        torch.utils.data._utils.pin_memory.pin_memory,
    )
    with pytest.raises(ZeroDivisionError), accelerator():
        assert torch.cuda.is_available()
        1 / 0  # noqa: B018
    assert not torch.cuda.is_available()
    assert (
        torch.cuda.is_available,
        torch.cuda.device_count,
        torch.cuda.manual_seed_all,
        torch.accelerator.current_stream,
        torch.backends.cudnn.is_acceptable,
        torch.utils.data._utils.pin_memory.pin_memory,
    ) == originals
    assert torch._C._len_torch_function_stack() == 0
    with pytest.raises(RuntimeError, match=r"NVIDIA driver|CUDA"):
        torch.zeros(1, device="cuda")


def test_blocks_nest(device):
    with accelerator() as inner:
        assert inner == device
    assert torch.cuda.is_available()
    assert is_simulated(torch.zeros(1, device=device)) or REAL_GPU


def test_another_thread_can_enter_its_own_block_while_one_is_active(device):
    seen = {}

    def worker():
        with accelerator() as dev:
            seen["device"] = torch.zeros(1, device=dev).device

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["device"] == torch.device("cuda", 0)
    assert torch.cuda.is_available()  # the other thread leaving did not undo this one


def test_with_a_gpu_present_the_real_device_is_used_and_nothing_is_patched(monkeypatch):
    if not REAL_GPU:  # pretend: accelerator() must then leave torch alone
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    patched = torch.cuda.is_available
    with accelerator() as dev:
        assert dev == torch.device("cuda", 0)
        assert torch.cuda.is_available is patched
        assert torch._C._len_torch_function_stack() == 0
        if REAL_GPU:
            assert not is_simulated(torch.zeros(1, device=dev))


def test_diagnostics_report_a_mismatch_on_the_simulated_device(device):
    model = nn.Linear(3, 2).to(device)
    with pytest.raises(RuntimeError), diagnostics.watch() as report:
        model(torch.ones(4, 3))
    assert report.codes() == {"device-mismatch"}
