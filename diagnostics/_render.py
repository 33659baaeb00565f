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


def finding_panel(
    finding: Finding, *, show_fix: bool = True, width: int | None = None, compact: bool = False
) -> Panel:
    """One finding as a panel. ``show_fix=False`` leaves out the ``Fix:`` line (a kata keeps it
    for the last rung of its hints). ``width``: the width the panel will take; a title that
    would not fit moves its count, then its location, into the panel, so it is never cut.
    ``compact``: no blank lines inside (a kata's failure block, read among others)."""
    sev = finding.severity
    where = str(finding.location) if finding.location else "location unknown"
    times = f"seen {finding.count} times" if finding.count > 1 else ""
    head = f"{sev.value} {finding.code}"
    room = (width - 6) if width else None  # two border cells and a space, each side
    inside: list[str] = []
    if (
        room is not None
        and len(f"{head} · {where} · {times}" if times else f"{head} · {where}") > room
    ):
        if times:
            inside.append(f"Seen {finding.count} times.")
            times = ""
        if len(f"{head} · {where}") > room:
            inside.insert(0, f"At {where}.")
            where = ""
    title = Text.assemble(
        (f"{sev.value} ", _STYLE[sev]),
        (finding.code, "bold"),
        (f" · {where}" if where else "", "dim"),
        (f" · {times}" if times else "", "dim"),
    )
    body: list[Any] = [Text(finding.message)]
    body += [Text(line, style="dim") for line in inside]
    if finding.evidence or finding.series or finding.ranks:
        labels = [label for label, _ in finding.evidence] + [name for name, _ in finding.series]
        labels += ["seen on"] if finding.ranks else []
        label_width = max(map(len, labels), default=0)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        if finding.ranks:
            grid.add_row(Text("seen on"), Text(_ranks(finding)))
        for label, value in finding.evidence:
            grid.add_row(Text(label), Text(value))
        for name, values in finding.series:
            if values:
                span = f"  {_fmt(values[0])} → {_fmt(values[-1])} ({len(values)} values)"
                spark = _SPARK_WIDTH
                if width is not None:  # the chart and its span on one line of the panel
                    spark = max(8, min(_SPARK_WIDTH, width - 4 - label_width - 1 - len(span)))
                line = Text(sparkline(values, spark), style="cyan")
                line.append(span, style="dim")
                grid.add_row(Text(name), line)
        body += [grid] if compact else [Text(""), grid]
    if show_fix:
        body += [] if compact else [Text("")]
        body.append(Text.assemble(("Fix: ", "bold green"), finding.fix))
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


def render_report(
    report: Report,
    console: Console | None = None,
    *,
    show_fix: bool = True,
    summary: bool = True,
    compact: bool = False,
) -> None:
    """Every finding as a panel the console's width, internal warnings, a summary line
    (``summary=False``: none, where the panels are the whole story); options as for
    :func:`finding_panel`."""
    console = console or Console(file=sys.stderr)
    for finding in report.findings:
        panel = finding_panel(finding, show_fix=show_fix, width=console.width, compact=compact)
        console.print(panel)
    for warning in report.internal_warnings:
        console.print(Text(f"internal warning: {warning}", style="dim"))
    if summary:
        console.print(summary_line(report))


def report_text(
    report: Report,
    width: int = 100,
    *,
    show_fix: bool = True,
    summary: bool = True,
    compact: bool = False,
) -> str:
    """The report as plain text (no colour), ``width`` columns at most, e.g. for pytest's
    failure sections."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False
    )
    render_report(report, console=console, show_fix=show_fix, summary=summary, compact=compact)
    return buffer.getvalue()
