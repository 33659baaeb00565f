"""The engine on training scripts written for training, not for the engine.

tests/corpus/correct/ holds correct scripts in the styles people use (plain loops, Trainer
classes, closures, GANs, distillation, EMA, AMP, fine-tuning, schedulers, checkpoints, ...):
each must run without a single finding, info included. tests/corpus/faulty/ holds scripts with
exactly one fault each, written the way people write it; the first line names the finding
code expected (``# expect: <code>``), and the engine must report that code and no other error
or warning, at a line of the script itself.

A script with a ``# corpus: accelerator`` line runs on the course's accelerator (the real GPU
when there is one, else the simulated one), so that device faults fail as they fail on a GPU.
A script with a ``# corpus: processes`` line starts processes of its own (DDP ranks): it runs
under ``python -m diagnostics --json``, which watches every process and merges their findings.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

import diagnostics
from diagnostics import CATALOGUE, Severity
from kata.accelerator import accelerator

CORPUS = Path(__file__).parent / "corpus"
CORRECT = sorted((CORPUS / "correct").glob("*.py"))
FAULTY = sorted((CORPUS / "faulty").glob("*.py"))
_EXPECT = re.compile(r"#\s*expect:\s*([a-z-]+)\s*$")

# Cases the engine still gets wrong; each reason says what happens and why.
# strict=True: once fixed, the case must be taken off this list.
XFAIL: dict[str, str] = {
    "no_grad_loss_rebuilt_from_items.py": (
        "the loss is torch.tensor(values, requires_grad=True).mean(): its graph ends at a tensor "
        "made from .item() values and never reaches the model, which is no-grad-training; the "
        "gradients family reports params-not-updating (the optimizer's parameters never get a "
        "gradient) and suggests building the optimizer over the right model instead"
    ),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The scripts are tiny: one thread is faster, and steady on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def expected_code(script: Path) -> str:
    first = script.read_text().splitlines()[0]
    match = _EXPECT.match(first)
    assert match, f"{script.name}: the first line must be '# expect: <code>'"
    return match.group(1)


def needs_accelerator(script: Path) -> bool:
    return "# corpus: accelerator" in script.read_text()


def needs_processes(script: Path) -> bool:
    return "# corpus: processes" in script.read_text()


def run_in_processes(script: Path) -> tuple[diagnostics.Report, BaseException | None]:
    """Run ``script`` under ``python -m diagnostics --json`` (it starts processes of its own)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "findings.json"
        proc = subprocess.run(
            [sys.executable, "-m", "diagnostics", "--json", str(out), str(script)],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=script.parent,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        data = json.loads(out.read_text())
    report = diagnostics.Report(
        findings=[diagnostics.Finding.from_dict(f) for f in data["findings"]],
        internal_warnings=data["internal_warnings"],
    )
    crash = RuntimeError(proc.stderr[-2000:]) if data["crash"] else None
    return report, crash


def run_watched(script: Path) -> tuple[diagnostics.Report, BaseException | None]:
    """Run ``script`` as ``python script`` would, inside a watch; return the report and the
    exception the script raised (crash-type faults end the script)."""
    if needs_processes(script):
        return run_in_processes(script)
    device = accelerator() if needs_accelerator(script) else contextlib.nullcontext()
    crash: BaseException | None = None
    with device:
        try:
            with diagnostics.watch() as report:
                runpy.run_path(str(script), run_name="__main__")
        except Exception as exc:  # the script's own crash; the watch has seen it
            crash = exc
    return report, crash


def describe(report: diagnostics.Report) -> str:
    return "\n".join(f"{f.code} ({f.severity.value}) at {f.location}" for f in report.findings)


def cases(scripts: list[Path]) -> list:
    return [
        pytest.param(
            s,
            id=s.name,
            marks=[pytest.mark.xfail(strict=True, reason=XFAIL[s.name])] if s.name in XFAIL else [],
        )
        for s in scripts
    ]


def test_the_corpus_is_large_enough_and_covers_every_code() -> None:
    assert len(CORRECT) >= 20
    assert len(FAULTY) >= 20
    assert {expected_code(s) for s in FAULTY} == set(CATALOGUE)


@pytest.mark.filterwarnings("ignore::UserWarning")  # e.g. torch's own about skipped AMP steps
@pytest.mark.parametrize("script", cases(CORRECT))
def test_a_correct_script_gets_no_finding_at_all(script: Path, capsys) -> None:
    report, crash = run_watched(script)
    assert crash is None, f"the script itself failed: {crash!r}"
    assert not report.findings, f"false alarm on correct code:\n{describe(report)}"
    assert not report.internal_warnings


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's own warning about some faults
@pytest.mark.parametrize("script", cases(FAULTY))
def test_a_faulty_script_gets_its_one_finding_in_the_script(script: Path, capsys) -> None:
    code = expected_code(script)
    report, _ = run_watched(script)
    failing = {f.code for f in report.findings if f.severity.fails}
    if CATALOGUE[code].severity is Severity.INFO:
        assert failing == set(), describe(report)
    else:
        assert failing == {code}, describe(report)
    [finding] = report.by_code(code)
    assert finding.location is not None, finding
    assert Path(finding.location.file).name == script.name, describe(report)
    assert not report.internal_warnings
