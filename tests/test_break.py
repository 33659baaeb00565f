"""``kata break``: every fault operator, run for real under the diagnostics.

Each operator is applied to a small correct training script (tests/data/break/) and the broken
result is run under ``diagnostics.watch()``: it must produce exactly the operator's finding
code. The operators are realistic mutants, so these tests are also a mutation test of the
diagnostics.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import diagnostics
from kata.accelerator import accelerator
from kata.cli import main
from kata.faults.breaking import OPERATORS, BreakError, break_source, operators_for

DATA = Path(__file__).parent / "data" / "break"

# (operator, correct script it is applied to). Several scripts per operator where the fault
# has several common shapes (an epoch scheduler moved before the loop vs. a batch scheduler
# swapped with the step; deepcopy vs. a dict of clones).
CASES = [
    ("remove-zero-grad", "classifier.py"),
    ("remove-zero-grad", "plain_sgd.py"),
    ("zero-grad-after-backward", "classifier.py"),
    ("zero-grad-after-backward", "plain_sgd.py"),
    ("scheduler-before-optimizer", "classifier.py"),
    ("scheduler-before-optimizer", "regression.py"),
    ("scheduler-per-batch", "classifier.py"),
    ("drop-eval", "classifier.py"),
    ("drop-train", "classifier.py"),
    ("drop-to-device", "classifier.py"),
    ("softmax-before-loss", "classifier.py"),
    ("alias-best-state", "classifier.py"),
    ("alias-best-state", "regression.py"),
    ("step-under-no-grad", "classifier.py"),
    ("step-under-no-grad", "plain_sgd.py"),
    ("detach-loss", "plain_sgd.py"),
    ("adam-not-adamw", "classifier.py"),
    ("drop-eval-no-grad", "classifier.py"),
    ("drop-eval-no-grad", "regression.py"),
    ("flatten-target", "regression.py"),
    ("huge-lr", "plain_sgd.py"),
    ("huge-adaptive-lr", "classifier.py"),
    ("huge-adaptive-lr", "clipped_amp.py"),  # lr=CONFIG["lr"], CONFIG = {"lr": LR}
    ("clip-after-step", "clipped_amp.py"),
    ("clip-before-unscale", "clipped_amp.py"),
    ("scheduler-before-optimizer", "clipped_amp.py"),  # the step inside a helper
    ("scheduler-per-batch", "clipped_amp.py"),  # into the helper, which is given the scheduler
]


# Realistic mutants the diagnostics miss or over-report today. Each stays a strict xfail with
# its precise reason: when the detector is fixed, the XPASS says to remove it here.
_DETECTOR_MISSES: dict[tuple[str, str], str] = {}


def _cases() -> Iterator[Any]:
    for operator, script in CASES:
        reason = _DETECTOR_MISSES.get((operator, script))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(operator, script, marks=marks, id=f"{operator}-{script[:-3]}")


# A batch left on the CPU only meets a model elsewhere on an accelerator: a real GPU, or the
# simulated one of kata.accelerator on a CPU-only machine.
_NEEDS_ACCELERATOR = {"drop-to-device"}


def _import(path: Path):
    name = f"_break_case_{path.stem}_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def _diagnose(path: Path, *, on_accelerator: bool = False) -> diagnostics.Report:
    """Run a script's train() under the diagnostics; a crash is part of what they explain."""
    module = _import(path)
    with contextlib.ExitStack() as stack:
        kwargs = {}
        if on_accelerator:
            kwargs["device"] = str(stack.enter_context(accelerator()))
        try:
            with diagnostics.watch() as report:
                module.train(seed=0, **kwargs)
        except Exception:
            pass  # the report holds the diagnosis of the crash (devices, no-grad training...)
    return report


@pytest.mark.parametrize(
    "script", ["classifier.py", "regression.py", "plain_sgd.py", "clipped_amp.py"]
)
def test_the_correct_scripts_give_no_finding(script):
    report = _diagnose(DATA / script)
    assert report.codes() == set(), str(report)


def test_the_correct_classifier_gives_no_finding_on_an_accelerator():
    report = _diagnose(DATA / "classifier.py", on_accelerator=True)
    assert report.codes() == set(), str(report)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch warns about some mutants itself
@pytest.mark.parametrize(("operator", "script"), list(_cases()))
def test_each_operator_makes_a_script_that_the_diagnostics_name_by_its_code(
    operator, script, tmp_path
):
    mutation = break_source((DATA / script).read_text(), operator, filename=script)
    broken = tmp_path / script
    broken.write_text(mutation.source)

    report = _diagnose(broken, on_accelerator=operator in _NEEDS_ACCELERATOR)

    expected = OPERATORS[operator].code
    assert report.codes() == {expected}, f"{operator} on {script}:\n{mutation.diff()}\n{report}"


def test_every_operator_has_a_mutation_test_and_a_catalogue_code():
    assert {op for op, _ in CASES} == set(OPERATORS)
    for op in OPERATORS.values():
        assert op.code in diagnostics.CATALOGUE, op.name


def test_the_cli_docs_list_every_operator_with_its_code():
    docs = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
    for op in OPERATORS.values():
        assert f"| `{op.name}` | `{op.code}` |" in docs, op.name


def test_operators_keep_comments_and_untouched_lines_as_written():
    source = (DATA / "classifier.py").read_text()
    broken = break_source(source, "scheduler-per-batch").source
    assert "            scheduler.step()  # StepLR counts epochs\n" in broken
    removed = set(source.splitlines()) - set(broken.splitlines())
    assert removed == {"        scheduler.step()  # StepLR counts epochs"}


def test_removing_zero_grad_takes_its_comment_along():
    source = (DATA / "classifier.py").read_text()
    broken = break_source(source, "remove-zero-grad").source
    assert "zero_grad" not in broken
    assert "clean gradients" not in broken
    assert len(broken.splitlines()) == len(source.splitlines()) - 2


def test_mutation_reports_the_first_changed_line():
    source = (DATA / "classifier.py").read_text()
    mutation = break_source(source, "softmax-before-loss")
    assert "softmax" in mutation.source.splitlines()[mutation.line - 1]


def test_an_operator_that_does_not_apply_is_refused_naming_it_and_what_it_looked_for():
    source = (DATA / "plain_sgd.py").read_text()
    with pytest.raises(BreakError) as info:
        break_source(source, "drop-eval", filename="plain_sgd.py")
    message = str(info.value)
    assert "plain_sgd.py" in message
    assert "'drop-eval'" in message
    assert "a statement calling .eval()" in message


_MODES_SCRIPT = """\
import torch
from torch import nn


def train(model_kind="plain"):
    layers = [nn.Linear(4, 8), nn.ReLU()]
    {extra}
    model = nn.Sequential(*layers, nn.Linear(8, 1))
    for _ in range(3):
        model.train()
        model(torch.randn(2, 4)).sum().backward()
        model.eval()
        with torch.no_grad():
            model(torch.randn(2, 4))
"""


@pytest.mark.parametrize("operator", ["drop-eval", "drop-train"])
def test_mode_operators_refuse_a_model_without_a_mode_dependent_layer(operator):
    # Deleting model.eval() / model.train() changes nothing on Linear and ReLU layers: no fault.
    with pytest.raises(BreakError, match="dropout or BatchNorm"):
        break_source(_MODES_SCRIPT.format(extra="pass"), operator, filename="plain.py")
    for extra in (
        "layers.append(nn.Dropout(0.2))",
        "layers.append(nn.BatchNorm1d(8))",
        "from my_models import Block; layers.append(Block())",  # a model from elsewhere
    ):
        mutation = break_source(_MODES_SCRIPT.format(extra=extra), operator)
        assert (
            mutation.source.count("model.eval()" if operator == "drop-eval" else "model.train()")
            == 0
        )


def test_scheduler_per_batch_edits_a_helper_only_when_it_can_pass_it_the_scheduler():
    source = (DATA / "clipped_amp.py").read_text()
    mutation = break_source(source, "scheduler-per-batch")
    assert "def train_one_epoch(model, loader, optimizer, scaler, config, scheduler):" in (
        mutation.source
    )
    assert "train_one_epoch(model, loader, optimizer, scaler, CONFIG, scheduler)" in mutation.source
    # A helper with a default argument is not rewritten: the call's arguments would shift.
    with_default = source.replace("scaler, config):", "scaler, config, log_every=10):")
    with pytest.raises(BreakError, match="scheduler-per-batch"):
        break_source(with_default, "scheduler-per-batch")


def test_a_finding_code_picks_the_first_operator_that_applies():
    source = (
        "from torch import nn\n\n"
        "def step(model, optimizer, loss_fn, x, y):\n"
        "    loss = loss_fn(model(x), y)\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
    )
    # step-under-no-grad needs 'import torch'; detach-loss, the other operator, applies.
    mutation = break_source(source, "no-grad-training")
    assert mutation.operator.name == "detach-loss"
    assert "loss = loss_fn(model(x), y).detach()" in mutation.source


def test_an_unknown_fault_suggests_the_closest_name():
    with pytest.raises(BreakError, match="Did you mean 'remove-zero-grad'"):
        operators_for("remove-zerograd")


def test_a_script_with_a_syntax_error_is_refused_with_its_line():
    with pytest.raises(BreakError, match=r"bad\.py:2: cannot read the script"):
        break_source("x = 1\ndef (:\n", "remove-zero-grad", filename="bad.py")


# -- the command ------------------------------------------------------------------------------
def test_kata_break_writes_the_broken_file_and_names_the_expected_code(tmp_path, capsys):
    out = tmp_path / "broken.py"
    code = main(
        ["break", str(DATA / "classifier.py"), "--fault", "grad-accumulation", "-o", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "zero_grad" not in out.read_text()
    assert "remove-zero-grad" in captured.err
    assert "grad-accumulation" in captured.err
    assert str(out) in captured.err


def test_kata_break_without_output_prints_the_broken_script(capsys):
    code = main(["break", str(DATA / "classifier.py"), "--fault", "drop-eval"])
    captured = capsys.readouterr()
    assert code == 0
    assert "def evaluate(model, x, y, device):\n    with torch.no_grad():" in captured.out


def test_kata_break_refusal_is_one_clear_line_and_exit_code_1(capsys):
    code = main(["break", str(DATA / "plain_sgd.py"), "--fault", "adam-weight-decay"])
    captured = capsys.readouterr()
    assert code == 1
    assert "'adam-not-adamw'" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_kata_break_on_a_missing_file_says_so(tmp_path, capsys):
    code = main(["break", str(tmp_path / "nope.py"), "--fault", "drop-eval"])
    assert code == 1
    assert "nope.py" in capsys.readouterr().err


def test_kata_break_list_shows_every_operator_with_its_code(capsys):
    assert main(["break", "--list"]) == 0
    out = capsys.readouterr().out
    for op in OPERATORS.values():
        assert op.name in out
        assert op.code in out
