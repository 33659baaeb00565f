"""Rendering: golden text of a report at a fixed width; sparklines.

Regenerate the golden files after a deliberate change with:
    python -m pytest tests/test_render.py --update-golden
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from diagnostics import Finding, Location, Report
from diagnostics._render import render_report, report_text, sparkline

GOLDEN = Path(__file__).parent / "golden"


def _report() -> Report:
    report = Report()
    report._add(
        Finding(
            code="grad-accumulation",
            message="optimizer.step() at step 2 used gradients that step 1 had already used.",
            fix="Call optimizer.zero_grad() once per step, before loss.backward().",
            location=Location("katas/day11/01/train.py", 42, "train"),
            evidence=(("first stale step", "2"), ("optimizer", "SGD (lr=0.1)")),
            series=(("gradient norm", (1.0, 2.0, 3.0, 4.0, 5.0)),),
            count=19,
        ),
        key="a",
    )
    report._add(
        Finding(
            code="eval-without-no-grad",
            message="Evaluation built an autograd graph that was never used.",
            fix="Wrap evaluation in torch.no_grad().",
        ),
        key="b",
    )
    return report


def _text(report: Report) -> str:
    buffer = io.StringIO()
    render_report(report, console=Console(file=buffer, width=88, color_system=None))
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["report"])
def test_a_report_renders_as_its_golden_text(name, request):
    text, path = _text(_report()), GOLDEN / f"{name}.txt"
    if request.config.getoption("--update-golden", default=False):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_an_empty_report_says_nothing_was_found():
    assert "no faults found" in _text(Report())


def test_the_json_view_holds_the_same_findings():
    data = json.loads(_report().to_json())
    assert [f["code"] for f in data["findings"]] == ["grad-accumulation", "eval-without-no-grad"]
    first = data["findings"][0]
    assert first["location"] == "katas/day11/01/train.py:42"
    assert first["count"] == 19 and first["severity"] == "error"
    assert first["series"]["gradient norm"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert data["summary"] == {"error": 1, "warning": 0, "info": 1}


def test_a_sparkline_rises_with_its_values_and_marks_non_finite_ones():
    assert sparkline([1, 2, 3]) == "▁▅█"
    assert sparkline([1, float("nan"), 3]) == "▁×█"
    assert sparkline([2, 2]) == "▅▅"
    assert len(sparkline(list(range(1000)), width=40)) == 40


def test_colour_is_off_when_no_color_is_set(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    buffer = io.StringIO()
    render_report(_report(), console=Console(file=buffer, force_terminal=True, width=88))
    assert "\x1b[31m" not in buffer.getvalue()  # no red, only styles such as bold remain


MARKUP = ["[/]", "head[cls]", "[bold]x[/bold]", ":smile:", "[link=http://x]y[/link]"]


@pytest.mark.parametrize("name", MARKUP)
def test_user_provided_names_are_shown_literally_never_as_markup(name):
    report = Report()
    report._add(
        Finding(
            code="grad-accumulation",
            message=f"message {name}",
            fix=f"fix {name}",
            location=Location(f"{name}.py", 7),
            evidence=((f"label {name}", f"value {name}"),),
            series=((f"series {name}", (1.0, 2.0)),),
        ),
        key="a",
    )
    report.internal_warnings.append(f"check {name} failed")
    text = _text(report)
    for part in ("message", "fix", "label", "value", "series", "check"):
        assert f"{part} {name}" in text
    assert f"{name}.py:7" in text


def _long_finding(count: int = 68) -> Finding:
    return Finding(
        code="grads-cleared-before-step",
        message="optimizer.step() ran after the gradients from backward() had been cleared.",
        fix="Clear gradients before loss.backward(), never between backward() and step().",
        location=Location("katas/day11/02_grads_cleared_before_step/train.py", 27),
        evidence=(("optimizer", "SGD (lr=0.05)"),),
        series=(("gradient norm at each step", tuple(float(i) for i in range(180))),),
        count=count,
    )


@pytest.mark.parametrize("width", [60, 72, 80, 100, 140])
def test_a_panel_takes_the_consoles_width_and_no_line_is_wider(width):
    report = Report()
    report._add(_long_finding(), key="a")
    buffer = io.StringIO()
    render_report(report, console=Console(file=buffer, width=width, color_system=None))
    lines = buffer.getvalue().splitlines()
    assert max(map(len, lines)) <= width
    assert len(lines[0]) == width  # the panel's top border spans the console


@pytest.mark.parametrize("width", [60, 64, 70, 80, 90])
def test_a_title_too_long_moves_its_count_into_the_panel_never_cutting_a_number(width):
    report = Report()
    report._add(_long_finding(count=68), key="a")
    buffer = io.StringIO()
    render_report(report, console=Console(file=buffer, width=width, color_system=None))
    text = buffer.getvalue()
    title = text.splitlines()[0]
    assert "seen 68 times" in title or ("Seen 68 times." in text and "seen" not in title)
    assert "…" not in title
    location = "katas/day11/02_grads_cleared_before_step/train.py:27"
    assert location in title or f"At {location}." in text


def test_the_fix_line_is_optional():
    assert "Fix: " in report_text(_report())
    without = report_text(_report(), show_fix=False)
    assert "Fix: " not in without and "zero_grad" not in without
    assert "optimizer.step() at step 2" in without
