"""``python -m diagnostics``: run a training script under watch() and report what went wrong."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import runpy
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._catalogue import CATALOGUE, UnknownCodeError, check_codes
from ._findings import Report
from ._processes import ProcessLayer
from ._render import render_report
from .files import write_atomically

USAGE_ERROR = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
_C_LONG = 2**63  # Python's exit() takes a C long; a bigger code exits as -1 would

_DESCRIPTION = """\
Run SCRIPT (as `python SCRIPT ARGS...` would, as __main__) while watching its training loop
with PyTorch hooks, then report every fault found: what is wrong, where, the evidence and the fix.

Processes the script starts with torch.multiprocessing / multiprocessing are watched too, and so
is every rank under `torchrun ... -m diagnostics SCRIPT`: one merged report is printed (by the
parent, or rank 0), each fault with the ranks or processes that saw it.

Exit status: 2 on a usage error (nothing is run); 1 when an error was found (with --strict, a
warning too) or the script crashed; 130 when interrupted; otherwise the script's own status, as
Python itself would exit with it. Warnings are advice: shown, but the status is the script's."""

_WARNINGS_ARE_ADVICE = (
    "diagnostics: warnings are advice and leave the exit status as it is "
    "(--strict makes them fail the run)."
)


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
        "--strict",
        action="store_true",
        help="warnings fail the run too (exit status 1), not only errors",
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
        table.add_row(
            *(Text(cell) for cell in (info.code, info.severity.value, info.family, info.summary))
        )
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
            "no script given. Usage: python -m diagnostics [--json PATH] [--strict] "
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
    json_dest: Path | None = None
    if ns.json is not None and ns.json != "-":
        json_dest, problem = _json_destination(ns.json)
        if problem:
            return _usage_error(problem)

    starter = os.getpid()
    layer = ProcessLayer(allow)
    with _stdout_to_stderr() if ns.json == "-" else contextlib.nullcontext():
        script_status, crash, interrupted, report = _run(script, ns.args, allow, layer)
    if os.getpid() != starter:
        # A child the script forked (os.fork) came back here instead of ending with os._exit():
        # it ends as it would without us, and the report is its parent's alone to print.
        if crash is not None:
            print("".join(traceback.format_exception(crash)), file=sys.stderr, end="")
        return script_status

    if crash is not None:
        err.print("[bold]The script crashed:[/bold]", highlight=False)
        print("".join(traceback.format_exception(crash)), file=sys.stderr, end="")
    own_status = exit_status(
        script_status,
        crashed=crash is not None,
        interrupted=interrupted,
        report=report,
        strict=ns.strict,
    )
    crash_text = None if crash is None else f"{type(crash).__name__}: {crash}"
    merged = layer.finish(report, status=own_status, crash=crash_text)
    if merged is None:
        # A rank other than 0 under torchrun: its findings are in rank 0's merged report, and
        # rank 0's status covers them. This rank exits as the script would: a rank that failed
        # on findings alone would make torchrun stop rank 0 before it could report. A rank that
        # crashed prints its own findings: torchrun now stops rank 0 too.
        if crash is not None or interrupted:
            render_report(layer.alone(report), console=err)
        return exit_status(
            script_status,
            crashed=crash is not None,
            interrupted=interrupted,
            report=Report(),
            strict=False,
        )
    report = merged
    if interrupted:
        err.print("[bold]Interrupted.[/bold] What was found so far:")
    render_report(report, console=err)
    status = exit_status(
        script_status,
        crashed=crash is not None,
        interrupted=interrupted,
        report=report,
        strict=ns.strict,
    )
    for failure in layer.failed_elsewhere:
        err.print(Text(f"diagnostics: {failure}.", style="bold red"), soft_wrap=True)
    if layer.failed_elsewhere and status == 0:
        status = EXIT_FAILED
    if not ns.strict and not report.fails() and report.failed:
        err.print(Text(_WARNINGS_ARE_ADVICE, style="dim"), soft_wrap=True)
    if ns.json is not None:
        data = _json_data(report, script, status, script_status, crash, strict=ns.strict)
        problem = _write_json(json_dest, data)
        if problem:
            print(f"python -m diagnostics: error: {problem}", file=sys.stderr)
            return status or USAGE_ERROR
    return status


def exit_status(
    script_status: int, *, crashed: bool, interrupted: bool, report: Report, strict: bool
) -> int:
    """The command's status: 1 on a crash or a failing finding, else the script's own.

    An interrupted run (Ctrl-C) keeps 130, as Python itself exits on KeyboardInterrupt.
    """
    if crashed:
        return EXIT_FAILED
    if interrupted:
        return EXIT_INTERRUPTED
    if report.fails(strict=strict):
        return EXIT_FAILED
    return script_status


def _json_destination(dest: str) -> tuple[Path, str]:
    """Where --json writes, resolved now (the script may chdir), and why it cannot, if so."""
    path = Path(os.path.abspath(Path(dest).expanduser()))
    parent = path.parent
    where = f"--json {dest!r}"
    if path.is_dir():
        return path, f"{where} is a folder; give a file in it, e.g. {path / 'findings.json'}."
    if not parent.exists():
        return path, f"{where}: the folder {parent} does not exist; create it first."
    if not parent.is_dir():
        return path, f"{where}: {parent} is a file, not a folder."
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return path, f"{where}: {path} cannot be written here (permission denied)."
    return path, ""


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """For ``--json -``: while the script runs, what it prints (and what its subprocesses and C
    code write to file descriptor 1) goes to stderr, so that stdout carries the JSON alone."""
    saved = sys.stdout
    with contextlib.suppress(AttributeError, ValueError, OSError):
        saved.flush()
    try:
        saved_fd = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no file descriptor 1 (a closed stdout): Python's own stream suffices
        saved_fd = None
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.stdout.flush()
        sys.stdout = saved
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


def _run(
    script: Path, args: Sequence[str], allow: Sequence[str], layer: ProcessLayer
) -> tuple[int, BaseException | None, bool, Report]:
    """Run the script as __main__: its exit status, its crash if any, whether it was
    interrupted (Ctrl-C), and the report (this process's own; workers are watched by
    ``layer``)."""
    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.resolve().parent))
    from ._watch import watch  # torch is imported only when a script is run

    status, crash, interrupted = 0, None, False
    w = watch(allow=allow)
    report = w.report
    try:
        with layer.watching(report), w:
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        status = _exit_code(exc.code)
    except KeyboardInterrupt:
        status, interrupted = EXIT_INTERRUPTED, True
    except BaseException as exc:  # any other BaseException ends a script as a crash does
        status, crash = EXIT_FAILED, _without_our_frames(exc)
    finally:
        sys.argv = saved_argv
        if sys.path and saved_path0 is not None and sys.path[0] != saved_path0:
            sys.path.pop(0)
    return status, crash, interrupted, report


def _exit_code(code: Any) -> int:
    """The status Python itself would exit with for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        if not -_C_LONG <= code < _C_LONG:
            code = -1
        # the operating system keeps the low byte (POSIX) or the low 32 bits (Windows)
        return code & (0xFF if os.name == "posix" else 0xFFFFFFFF)
    print(code, file=sys.stderr)
    return EXIT_FAILED


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


def _json_data(
    report: Report,
    script: Path,
    status: int,
    script_status: int,
    crash: BaseException | None,
    *,
    strict: bool,
) -> dict[str, Any]:
    import torch

    data = report.to_dict()
    data.update(
        script=str(script),
        exit_status=status,
        script_exit_status=script_status,
        strict=strict,
        crash=None if crash is None else f"{type(crash).__name__}: {crash}",
        torch_version=torch.__version__,
    )
    return data


def _write_json(dest: Path | None, data: dict[str, Any]) -> str:
    """Write the JSON to ``dest`` (stdout when None) in one piece; return a problem, if any."""
    text = json.dumps(data, indent=2) + "\n"
    if dest is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return ""
    try:
        write_atomically(dest, text)
    except OSError as exc:
        return f"could not write the JSON to {dest}: {exc.strerror or exc}."
    return ""
