"""Rendering of a report with rich: one panel per finding. Data lives in _findings.

Every string of a finding comes from the user's program (class names, ``ModuleDict`` keys,
paths, values): it is rendered as a ``Text``, never parsed as rich markup or emoji codes, so
``head[cls]`` or ``[/]`` shows as written.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ._catalogue import Severity
from ._findings import Finding, Report

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold blue"}
_BARS = "▁▂▃▄▅▆▇█"
_SPARK_WIDTH = 40


def sparkline(values: Sequence[float], width: int = _SPARK_WIDTH) -> str:
    """An inline chart of a series; non-finite values show as '×'."""
    if not values:
        return ""
    if len(values) > width:  # keep the first, the last and an even sample between
        step = (len(values) - 1) / (width - 1)
        values = [values[round(i * step)] for i in range(width)]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "×" * len(values)
    lo, hi = min(finite), max(finite)
    span = hi - lo
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append("×")
        elif span == 0:
            out.append(_BARS[len(_BARS) // 2])
        else:
            out.append(_BARS[round((v - lo) / span * (len(_BARS) - 1))])
    return "".join(out)


def _fmt(v: float) -> str:
    return f"{v:.3g}" if math.isfinite(v) else str(v)


def finding_panel(finding: Finding) -> Panel:
    sev = finding.severity
    body: list[Any] = [Text(finding.message)]
    if finding.evidence or finding.series or finding.ranks:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        if finding.ranks:
            grid.add_row(Text("seen on"), Text(_ranks(finding)))
        for label, value in finding.evidence:
            grid.add_row(Text(label), Text(value))
        for name, values in finding.series:
            if values:
                line = Text(sparkline(values), style="cyan")
                line.append(
                    f"  {_fmt(values[0])} → {_fmt(values[-1])} ({len(values)} values)", style="dim"
                )
                grid.add_row(Text(name), line)
        body += [Text(""), grid]
    body += [Text(""), Text.assemble(("Fix: ", "bold green"), finding.fix)]
    where = str(finding.location) if finding.location else "location unknown"
    times = f" · seen {finding.count} times" if finding.count > 1 else ""
    title = Text.assemble(
        (f"{sev.value} ", _STYLE[sev]),
        (finding.code, "bold"),
        (f" · {where}{times}", "dim"),
    )
    return Panel(
        Group(*body), title=title, title_align="left", border_style=_STYLE[sev].split()[-1]
    )


def _ranks(finding: Finding) -> str:
    """'rank 0, rank 1' (with each one's count when they differ), for merged reports."""
    counts = {n for _, n in finding.ranks}
    if len(counts) == 1:
        return ", ".join(label for label, _ in finding.ranks)
    return ", ".join(f"{label} ×{n}" for label, n in finding.ranks)


def summary_line(report: Report) -> Text:
    counts = {sev: sum(f.severity is sev for f in report.findings) for sev in Severity}
    across = ""
    if len(report.processes) == 1:
        across = f" on {report.processes[0]}"
    elif report.processes:
        across = f" across {len(report.processes)} processes ({', '.join(report.processes)})"
    if not report.findings:
        return Text(f"diagnostics: no faults found{across}.", style="green")
    parts = [f"{n} {sev.value}{'s' if n != 1 else ''}" for sev, n in counts.items() if n]
    return Text(f"diagnostics: {', '.join(parts)}{across}.", style="bold")


def render_report(report: Report, console: Console | None = None) -> None:
    console = console or Console(file=sys.stderr)
    for finding in report.findings:
        console.print(finding_panel(finding))
    for warning in report.internal_warnings:
        console.print(Text(f"internal warning: {warning}", style="dim"))
    console.print(summary_line(report))


def report_text(report: Report, width: int = 100) -> str:
    """The report as plain text (no colour), e.g. for pytest failure sections."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False
    )
    render_report(report, console=console)
    return buffer.getvalue()
