"""The checkpoints family: state-dict-alias.

A "best" state dict kept without a copy still aliases the live parameters: once training has
moved them on, restoring it (or saving it) uses the current weights. The fault is reported at
the load or save line, with the line where the state dict was taken; real copies, immediate
saves, checkpoint files and in-place EMA updates stay silent.
"""

from __future__ import annotations

import copy
import gc
import io
import weakref
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
from tests import helpers
from tests._markers import line_of

CODE = "state-dict-alias"
# The only finding of a report, of this module's code, at an error, in this file.
only_finding = partial(helpers.only_finding, code=CODE)


def taken_at(finding: diagnostics.Finding) -> int:
    """The line number in the 'state dict taken at' evidence."""
    return int(dict(finding.evidence)["state dict taken at"].rsplit(":", 1)[1])


def model_and_data(batch_norm: bool = False):
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(4, 8)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(8))
    layers += [nn.ReLU(), nn.Linear(8, 1)]
    model = nn.Sequential(*layers)
    g = torch.Generator().manual_seed(0)
    return model, torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g)


def train_steps(model, optimizer, x, y, steps: int = 3) -> None:
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()


# == state-dict-alias ==============================================================================
def test_restoring_a_best_state_dict_kept_without_a_copy_is_reported_at_the_load_line():
    model, x, y = model_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        train_steps(model, optimizer, x, y)
        best = model.state_dict()  # script-best
        train_steps(model, optimizer, x, y)
        model.load_state_dict(best)  # script-restore

    finding = only_finding(report)
    assert finding.count == 1
    assert finding.location.line == line_of("script-restore")
    assert taken_at(finding) == line_of("script-best")
    assert "restores nothing" in finding.message
    assert "4 of 4 tensors" in finding.message
    assert dict(finding.evidence)["example"] == "0.weight: 3 in-place updates since it was taken"
    assert "copy.deepcopy(model.state_dict())" in finding.fix


class EarlyStopping:
    """Keeps the best weights as a dict comprehension over state_dict(): still references."""

    def __init__(self) -> None:
        self.best_loss = float("inf")
        self.best_state: dict[str, torch.Tensor] | None = None

    def update(self, loss: float, model: nn.Module) -> None:
        if loss < self.best_loss:
            self.best_loss = loss
            self.best_state = {k: v for k, v in model.state_dict().items()}  # stopper-keep

    def restore(self, model: nn.Module) -> None:
        model.load_state_dict(self.best_state)  # stopper-restore


def test_an_early_stopping_class_copying_only_the_dict_is_reported_once_per_restore():
    model, x, y = model_and_data(batch_norm=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    stopper = EarlyStopping()
    with diagnostics.watch() as report:
        for loss in (1.0, 0.5, 0.7, 0.8):
            train_steps(model, optimizer, x, y, steps=2)
            stopper.update(loss, model)
        stopper.restore(model)
        train_steps(model, optimizer, x, y, steps=1)
        stopper.restore(model)

    finding = only_finding(report)
    assert finding.count == 2
    assert finding.location.line == line_of("stopper-restore")
    assert finding.location.function == "restore"
    assert taken_at(finding) == line_of("stopper-keep")


def test_a_cnn_state_dict_moved_to_cpu_on_a_cpu_model_is_still_an_alias():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 1, 4, 4), torch.randn(4, 1)
    with diagnostics.watch() as report:
        best = {k: v.cpu() for k, v in model.state_dict().items()}  # .cpu() copies nothing here
        train_steps(model, optimizer, x, y)
        model.load_state_dict(best)  # cnn-restore

    finding = only_finding(report)
    assert finding.location.line == line_of("cnn-restore")


def test_saving_a_best_state_dict_after_training_moved_on_is_reported_at_the_save_line():
    model, x, y = model_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        best = model.state_dict(keep_vars=True)  # keep-vars-best
        train_steps(model, optimizer, x, y)
        torch.save({"epoch": 3, "model": best}, io.BytesIO())  # save-stale

    finding = only_finding(report)
    assert finding.location.line == line_of("save-stale")
    assert taken_at(finding) == line_of("keep-vars-best")
    assert "torch.save()" in finding.message
    assert dict(finding.evidence)["example"].startswith("model.0.weight: ")
    assert "save right away" in finding.fix


# == correct patterns stay silent ================================================================
def test_best_weights_kept_as_real_copies_restore_silently():
    model, x, y = model_and_data(batch_norm=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        copies = [
            copy.deepcopy(model.state_dict()),
            {k: v.clone() for k, v in model.state_dict().items()},
            {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        ]
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        train_steps(model, optimizer, x, y)
        for best in copies:
            model.load_state_dict(best)
        buffer.seek(0)
        model.load_state_dict(torch.load(buffer))
    assert CODE not in report.codes()


def test_restoring_a_copy_really_restores_the_best_weights():
    model, x, y = model_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        best = copy.deepcopy(model.state_dict())
        train_steps(model, optimizer, x, y)
        model.load_state_dict(best)
    assert CODE not in report.codes()
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())


def test_checkpoints_saved_right_away_every_epoch_are_silent(tmp_path):
    model, x, y = model_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for epoch in range(3):
            train_steps(model, optimizer, x, y)
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
            torch.save(state, tmp_path / f"epoch{epoch}.pt")
        model.load_state_dict(torch.load(tmp_path / "epoch1.pt")["model"])
    assert CODE not in report.codes()


def test_a_state_dict_taken_at_the_last_step_restores_silently():
    model, x, y = model_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        train_steps(model, optimizer, x, y)
        best = model.state_dict()
        model.load_state_dict(best)
        torch.save(best, io.BytesIO())
    assert CODE not in report.codes()


def test_an_ema_updated_in_place_through_its_state_dict_and_a_copy_into_another_model_are_silent():
    model, x, y = model_and_data(batch_norm=True)
    ema = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for _ in range(3):
            train_steps(model, optimizer, x, y, steps=1)
            ema_state, live = ema.state_dict(), model.state_dict()
            with torch.no_grad():
                for k, v in ema_state.items():
                    if v.is_floating_point():
                        v.mul_(0.9).add_(live[k], alpha=0.1)
            ema.load_state_dict(ema_state)
        ema.load_state_dict(model.state_dict())
    assert CODE not in report.codes()


def test_an_ema_kept_through_a_live_view_of_its_state_dict_and_saved_at_the_end_is_silent():
    model, x, y = model_and_data()
    ema = copy.deepcopy(model)  # its parameters still require grad, but nothing trains them
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    with diagnostics.watch() as report:
        ema_state = ema.state_dict()  # a live view, on purpose
        for _ in range(3):
            train_steps(model, optimizer, x, y, steps=1)
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    ema_state[k].mul_(0.9).add_(v, alpha=0.1)
        torch.save(ema_state, io.BytesIO())
        ema.load_state_dict(ema_state)
    assert CODE not in report.codes()


def test_best_weights_of_a_model_trained_by_hand_are_still_reported():
    model, x, y = model_and_data()
    with diagnostics.watch() as report:
        best = model.state_dict()  # by-hand-best
        for _ in range(3):
            model.zero_grad()
            F.mse_loss(model(x), y).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
        model.load_state_dict(best)  # by-hand-restore
    finding = only_finding(report)
    assert finding.location.line == line_of("by-hand-restore")
    assert taken_at(finding) == line_of("by-hand-best")


def train_and_keep_best(model, optimizer, x, y) -> dict[str, torch.Tensor]:
    best = model.state_dict()  # returned-best
    train_steps(model, optimizer, x, y)
    return best


def test_a_best_state_dict_returned_and_loaded_into_a_fresh_model_is_reported():
    model, x, y = model_and_data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        best = train_and_keep_best(model, optimizer, x, y)
        fresh = copy.deepcopy(model)
        fresh.load_state_dict(best)  # fresh-load
    finding = only_finding(report)
    assert finding.location.line == line_of("fresh-load")
    assert taken_at(finding) == line_of("returned-best")
    assert "receives Sequential's current weights" in finding.message


def test_a_fresh_state_dict_loaded_into_another_model_is_silent():
    model, x, y = model_and_data()
    target = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with diagnostics.watch() as report:
        for _ in range(3):
            train_steps(model, optimizer, x, y, steps=2)
            target.load_state_dict(model.state_dict())  # a target network's periodic copy
    assert CODE not in report.codes()


def test_the_watch_keeps_no_state_dict_tensor_alive():
    model, _, _ = model_and_data()
    with diagnostics.watch() as report:
        state = model.state_dict()
        ref = weakref.ref(state["0.weight"])
        del state
        gc.collect()
        assert ref() is None
    assert CODE not in report.codes()


def test_the_evidence_names_a_trained_weight_not_a_batch_counter():
    torch.manual_seed(0)
    # Buffers come first in this state dict: a BatchNorm without affine parameters.
    model = nn.Sequential(nn.BatchNorm1d(4, affine=False), nn.Linear(4, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    best = None
    with diagnostics.watch() as report:
        for step in range(4):
            optimizer.zero_grad()
            model(torch.randn(8, 4)).pow(2).mean().backward()
            optimizer.step()
            if step == 0:
                best = model.state_dict()
        model.load_state_dict(best)
    example = dict(only_finding(report).evidence)["example"]
    assert example.startswith("1.weight: "), example
