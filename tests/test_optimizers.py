"""The optimizers family: Adam-family optimizers with coupled weight decay, reported once
per optimizer at the line that builds it; AdamW and decoupled decay stay silent."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
import kata_fixtures as fixtures
from tests import helpers
from tests.helpers import assert_points_at

# The one adam-weight-decay finding (other codes may be there too).
single = partial(helpers.single, code="adam-weight-decay")


def train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 5) -> None:
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()  # the step


def test_adam_with_weight_decay_is_reported_once_at_the_line_that_builds_it():
    torch.manual_seed(0)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-2)  # built: adam
    with diagnostics.watch() as report:
        train(model, optimizer, steps=8)
    finding = single(report)
    assert finding.count == 1
    assert finding.severity is diagnostics.Severity.WARNING
    assert_points_at(finding, "built: adam")
    assert finding.location.function.startswith("test_adam_with_weight_decay")
    assert "weight_decay=0.01" in finding.message
    assert "torch.optim.AdamW(params, lr=..., weight_decay=0.01)" in finding.fix
    assert dict(finding.evidence)["weight_decay"] == "0.01"


class Trainer:
    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.NAdam(  # built: trainer
            model.parameters(),
            lr=2e-3,
            weight_decay=5e-4,
        )

    def fit(self) -> None:
        train(self.model, self.optimizer)


def test_a_trainer_building_nadam_with_weight_decay_is_pointed_at_its_constructor():
    with diagnostics.watch() as report:
        Trainer(fixtures.MLP(8, 1, hidden=(16,))).fit()
    finding = single(report)
    assert_points_at(finding, "built: trainer")
    assert finding.location.function == "__init__"
    assert "decoupled_weight_decay=True" in finding.fix


@pytest.mark.parametrize("cls", [torch.optim.Adamax, torch.optim.RAdam])
def test_the_other_adam_variants_with_weight_decay_are_reported(cls):
    model = fixtures.MLP(8, 1, hidden=(16,))
    with diagnostics.watch() as report:
        train(model, cls(model.parameters(), weight_decay=0.1))
    assert cls.__name__ in single(report).message


class MyAdam(torch.optim.Adam):
    """A user subclass that keeps Adam's coupled decay."""


def test_a_user_subclass_of_adam_is_reported_under_its_own_name():
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = MyAdam(model.parameters(), weight_decay=1e-3)  # built: subclass
    with diagnostics.watch() as report:
        train(model, optimizer)
    finding = single(report)
    assert finding.message.startswith("MyAdam was built with weight_decay=0.001")
    assert_points_at(finding, "built: subclass")


def test_decay_in_one_parameter_group_is_enough_and_named():
    model = fixtures.MLP(8, 1, hidden=(16,))
    decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
    optimizer = torch.optim.Adam(
        [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}]
    )
    with diagnostics.watch() as report:
        train(model, optimizer)
    assert dict(single(report).evidence)["param groups with decay"] == "1 of 2"


def test_each_faulty_optimizer_is_reported_separately():
    generator, critic = fixtures.MLP(8, 1, hidden=(8,)), fixtures.MLP(8, 1, hidden=(8,))
    with diagnostics.watch() as report:
        train(generator, torch.optim.Adam(generator.parameters(), weight_decay=1e-4))
        train(critic, torch.optim.Adam(critic.parameters(), weight_decay=1e-4))
    assert [f.count for f in report.by_code("adam-weight-decay")] == [1, 1]


def test_without_a_constructor_in_sight_the_first_step_is_pointed_at():
    model = fixtures.MLP(8, 1, hidden=(16,))
    make = torch.optim.Adam
    optimizer = make(model.parameters(), weight_decay=1e-2)
    with diagnostics.watch() as report:
        train(model, optimizer)
    assert_points_at(single(report), "the step")


@pytest.mark.parametrize(
    "make",
    [
        lambda params: torch.optim.AdamW(params, weight_decay=1e-2),
        lambda params: torch.optim.Adam(params),
        lambda params: torch.optim.Adam(params, weight_decay=0.0),
        lambda params: torch.optim.Adam(params, weight_decay=1e-2, decoupled_weight_decay=True),
        lambda params: torch.optim.NAdam(params, weight_decay=1e-2, decoupled_weight_decay=True),
        lambda params: torch.optim.RAdam(params, weight_decay=1e-2, decoupled_weight_decay=True),
        lambda params: torch.optim.SGD(params, lr=0.1, weight_decay=5e-4, momentum=0.9),
        lambda params: type("MyAdamW", (torch.optim.AdamW,), {})(params, weight_decay=0.1),
    ],
    ids=[
        "adamw",
        "adam-without-decay",
        "adam-zero-decay",
        "adam-decoupled",
        "nadam-decoupled",
        "radam-decoupled",
        "sgd-with-decay",
        "adamw-subclass",
    ],
)
def test_decoupled_or_absent_weight_decay_is_not_reported(make):
    model = fixtures.MLP(8, 1, hidden=(16,))
    with diagnostics.watch() as report:
        train(model, make(model.parameters()))
    assert report.by_code("adam-weight-decay") == []


_CONFIGURE = """
import torch


def configure_optimizer(model, config):
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.Adam(
        [{"params": decay, "weight_decay": config["wd"]}, {"params": rest, "weight_decay": 0.0}],
        lr=config["lr"],
    )
"""

_LOOP = """
import torch
import torch.nn.functional as F


def fit(model, optimizer, steps=5):
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
"""


@pytest.fixture
def modules():
    """Write and import modules by name; they leave sys.modules afterwards."""
    import importlib.util
    import sys

    names = []

    def load(folder: Path, name: str, source: str):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.py").write_text(source)
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        names.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in names:
        sys.modules.pop(name, None)


def test_an_optimizer_built_in_a_neighbouring_module_is_pointed_at_its_constructor(
    tmp_path, modules
):
    recipe = modules(tmp_path, "recipe_for_adam_decay", _CONFIGURE)
    loop = modules(tmp_path, "loop_for_adam_decay", _LOOP)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = recipe.configure_optimizer(model, {"wd": 0.05, "lr": 1e-3})
    with diagnostics.watch() as report:
        loop.fit(model, optimizer)  # stepped in loop.py, built in recipe.py next to it
    location = single(report).location
    assert location is not None
    assert Path(location.file).name == "recipe_for_adam_decay.py"
    assert location.line == _CONFIGURE.splitlines().index("    return torch.optim.Adam(") + 1
    assert location.function == "configure_optimizer"


def test_a_constructor_in_another_folder_is_never_guessed(tmp_path, modules):
    recipe = modules(tmp_path / "elsewhere", "recipe_far_away", _CONFIGURE)
    loop = modules(tmp_path / "project", "loop_far_away", _LOOP)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = recipe.configure_optimizer(model, {"wd": 0.05, "lr": 1e-3})
    with diagnostics.watch() as report:
        loop.fit(model, optimizer)
    location = single(report).location
    assert location is not None and Path(location.file).name == "loop_far_away.py"


def test_two_candidate_constructors_next_door_leave_the_step_pointed_at(tmp_path, modules):
    one = modules(tmp_path, "recipe_one", _CONFIGURE)
    modules(tmp_path, "recipe_two", _CONFIGURE)
    loop = modules(tmp_path, "loop_two_recipes", _LOOP)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = one.configure_optimizer(model, {"wd": 0.05, "lr": 1e-3})
    with diagnostics.watch() as report:
        loop.fit(model, optimizer)
    location = single(report).location
    assert location is not None and Path(location.file).name == "loop_two_recipes.py"
