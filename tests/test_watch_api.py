"""The public Watch API: Watch(checks=...), start()/stop(), active, and the public renderers."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
from diagnostics import Report, Watch


def _train_without_zero_grad_in_eval_mode(steps: int = 4) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model.eval()  # eval-mode-in-training
    for _ in range(steps):  # no zero_grad: grad-accumulation
        F.mse_loss(model(torch.ones(8, 4)), torch.zeros(8, 1)).backward()
        opt.step()


def test_a_watch_runs_every_family_by_default():
    w = Watch()
    assert set(w.checks) == set(diagnostics.ALL_CHECKS)
    with w as report:
        _train_without_zero_grad_in_eval_mode()
    assert {"grad-accumulation", "eval-mode-in-training"} <= report.codes()


def test_checks_by_family_name_run_only_those_families():
    with diagnostics.watch(checks=["gradients"]) as report:
        _train_without_zero_grad_in_eval_mode()
    assert report.codes() == {"grad-accumulation"}
    with diagnostics.watch(checks="modes") as report:
        _train_without_zero_grad_in_eval_mode()
    assert report.codes() == {"eval-mode-in-training"}


def test_checks_by_class_are_the_same_as_by_name():
    gradients = next(c for c in diagnostics.ALL_CHECKS if c.family == "gradients")
    assert Watch(checks=[gradients, "gradients"]).checks == (gradients,)


def test_an_unknown_family_name_is_refused_with_a_suggestion():
    try:
        Watch(checks=["gradient"])
    except ValueError as exc:
        assert "'gradient'" in str(exc)
        assert "Did you mean 'gradients'?" in str(exc)
        assert "modes" in str(exc)  # the families are listed
    else:
        raise AssertionError("an unknown family was accepted")


def test_something_that_is_no_check_is_refused():
    for wrong in ([nn.Linear], [42]):
        try:
            Watch(checks=wrong)
        except TypeError as exc:
            assert "subclasses of diagnostics.Check" in str(exc)
        else:
            raise AssertionError(f"{wrong} was accepted as checks")


def test_start_and_stop_observe_what_runs_between_them():
    w = diagnostics.watch()
    assert not w.active
    report = w.start()
    assert w.active and report is w.report
    _train_without_zero_grad_in_eval_mode()
    assert w.stop() is report
    assert not w.active
    assert "grad-accumulation" in report.codes()
    # Stopped: nothing is seen any more, and stopping again changes nothing.
    before = [f.count for f in report.findings]
    _train_without_zero_grad_in_eval_mode()
    assert w.stop() is report
    assert [f.count for f in report.findings] == before


def test_a_started_watch_cannot_start_again_until_stopped():
    w = diagnostics.watch()
    w.start()
    try:
        try:
            w.start()
        except RuntimeError as exc:
            assert "already active" in str(exc)
        else:
            raise AssertionError("a second start() was accepted")
    finally:
        w.stop()
    w.start()  # a stopped watch starts again
    w.stop()


def test_stop_with_the_exception_explains_the_crash():
    w = diagnostics.watch()
    w.start()
    try:
        nn.Linear(3, 2)(torch.ones(4, 5))
    except RuntimeError as exc:
        report = w.stop(exc)
    else:
        raise AssertionError("the shapes were accepted")
    assert report.codes() == {"shape-mismatch"}


def test_stop_without_the_exception_leaves_the_crash_unexplained():
    w = diagnostics.watch()
    w.start()
    with contextlib.suppress(RuntimeError):
        nn.Linear(3, 2)(torch.ones(4, 5))
    assert "shape-mismatch" not in w.stop().codes()


def _one_finding_report() -> Report:
    with diagnostics.watch(checks=["gradients"]) as report:
        _train_without_zero_grad_in_eval_mode()
    return report


def test_report_text_is_the_public_rendering_of_a_report():
    from diagnostics._render import report_text

    report = _one_finding_report()
    assert diagnostics.report_text(report, 80) == report_text(report, 80)
    assert "grad-accumulation" in diagnostics.report_text(report)


def test_render_prints_the_report_to_a_given_console():
    import io

    from rich.console import Console

    buffer = io.StringIO()
    diagnostics.render(_one_finding_report(), Console(file=buffer, width=90, color_system=None))
    assert "grad-accumulation" in buffer.getvalue()
    assert "diagnostics: 1 error." in buffer.getvalue()


def test_a_report_as_a_string_is_plain_text_of_its_findings():
    text = str(_one_finding_report())
    first = text.splitlines()[0]
    assert first.startswith("grad-accumulation [error] at ")
    assert "test_watch_api.py:" in first
    assert "Fix: Call optimizer.zero_grad()" in text
    assert str(Report()) == "diagnostics: no faults found."


def test_the_public_names_are_all_importable():
    for name in diagnostics.__all__:
        assert getattr(diagnostics, name) is not None, name
