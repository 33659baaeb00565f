"""``python -m diagnostics``: run a training script under watch() and report what went wrong."""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from ._catalogue import CATALOGUE, UnknownCodeError, check_codes
from ._engine import watch
from ._findings import Report
from ._render import render_report

USAGE_ERROR = 2
EXIT_INTERRUPTED = 130

_DESCRIPTION = """\
Run SCRIPT (as `python SCRIPT ARGS...` would, as __main__) while watching its training loop
with PyTorch hooks, then report every fault found: what is wrong, where, the evidence and the fix.
Exit status: 0 when nothing is wrong, 1 when an error or warning was found or the script crashed,
2 on a usage error."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m diagnostics",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--json", metavar="PATH", help="also write the findings as JSON to PATH ('-': stdout)"
    )
    p.add_argument(
        "--allow",
        metavar="CODE",
        action="append",
        default=[],
        help="silence a finding code for a deliberate pattern (repeatable)",
    )
    p.add_argument("--list-codes", action="store_true", help="list every finding code and exit")
    p.add_argument("--markdown", action="store_true", help="with --list-codes: a Markdown table")
    p.add_argument("script", nargs="?", help="the Python training script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed on to SCRIPT")
    return p


def _usage_error(message: str) -> int:
    print(f"python -m diagnostics: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def _list_codes(console: Console) -> int:
    table = Table(title="Finding codes")
    table.add_column("code", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("family", no_wrap=True)
    table.add_column("meaning")
    for info in CATALOGUE.values():
        table.add_row(info.code, info.severity.value, info.family, info.summary)
    console.print(table)
    return 0


def codes_markdown() -> str:
    """The catalogue as the Markdown table that docs/findings.md carries."""
    rows = ["| code | severity | family | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{i.code}` | {i.severity.value} | {i.family} | {i.summary} |"
        for i in CATALOGUE.values()
    ]
    return "\n".join(rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    err = Console(file=sys.stderr)
    if ns.list_codes:
        if ns.markdown:
            print(codes_markdown(), end="")
            return 0
        return _list_codes(Console())
    if not ns.script:
        return _usage_error(
            "no script given. Usage: python -m diagnostics [--json PATH] "
            "[--allow CODE]... SCRIPT [ARGS...]"
        )
    script = Path(ns.script)
    if not script.is_file():
        hint = " (it is a folder)" if script.is_dir() else ""
        return _usage_error(f"cannot run {str(script)!r}: no such file{hint}.")
    try:
        allow = check_codes(ns.allow)
    except UnknownCodeError as exc:
        return _usage_error(str(exc))

    status, crash, report = _run(script, ns.args, allow)
    if crash is not None:
        err.print("[bold]The script crashed:[/bold]", highlight=False)
        print("".join(traceback.format_exception(crash)), file=sys.stderr, end="")
    if status == EXIT_INTERRUPTED:
        err.print("[bold]Interrupted.[/bold] What was found so far:")
    render_report(report, console=err)
    if report.failed and status == 0:
        status = 1
    if ns.json:
        _write_json(ns.json, report, script, status, crash)
    return status


def _run(
    script: Path, args: Sequence[str], allow: Sequence[str]
) -> tuple[int, BaseException | None, Report]:
    """Run the script as __main__; return its exit status, its crash if any, and the report."""
    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.resolve().parent))
    status, crash = 0, None
    w = watch(allow=allow)
    report = w.report
    try:
        with w:
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        status = _exit_code(exc.code)
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    except Exception as exc:
        status, crash = 1, _without_our_frames(exc)
    finally:
        sys.argv = saved_argv
        if sys.path and saved_path0 is not None and sys.path[0] != saved_path0:
            sys.path.pop(0)
    return status, crash, report


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _without_our_frames(exc: BaseException) -> BaseException:
    """Drop the runpy/CLI frames at the top of the traceback: the user's code starts below."""
    tb = exc.__traceback__
    script_frames_start = tb
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if "runpy" not in name and os.path.dirname(__file__) not in name:
            script_frames_start = tb
            break
        tb = tb.tb_next
    return exc.with_traceback(script_frames_start)


def _write_json(
    dest: str, report: Report, script: Path, status: int, crash: BaseException | None
) -> None:
    data = report.to_dict()
    data.update(
        script=str(script),
        exit_status=status,
        crash=None if crash is None else f"{type(crash).__name__}: {crash}",
        torch_version=torch.__version__,
    )
    text = json.dumps(data, indent=2)
    if dest == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(dest).write_text(text + "\n", encoding="utf-8")
