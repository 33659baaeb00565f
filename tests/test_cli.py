"""python -m diagnostics: running scripts, exit codes, JSON and usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from diagnostics import _engine
from diagnostics._checks import Check
from diagnostics._cli import main
from diagnostics._location import user_stack


class _Probe(Check):
    """Reports an error at every optimizer step, and explains crashes as shape-mismatch."""

    def on_step_pre(self, optimizer):
        # This file is user code too: point past the probe itself, at the script's line.
        location = user_stack(limit=2)[1]
        self.emit(
            "grad-accumulation",
            key="probe",
            message="probe finding",
            fix="probe fix",
            location=location,
        )

    def on_exception(self, exc):
        self.emit("shape-mismatch", key="crash", message=f"explained: {exc}", fix="fix it")


class _Info(Check):
    def on_step_pre(self, optimizer):
        self.emit("eval-without-no-grad", key="info", message="info only", fix="none")


@pytest.fixture
def probe(monkeypatch):
    def use(*checks):
        monkeypatch.setattr(_engine, "_checks_for_run", lambda: checks)

    use(_Probe)
    return use


def script(tmp_path: Path, body: str, name: str = "train.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


STEPPING = """
    import sys
    import torch
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 2):
        model(torch.ones(1, 2)).sum().backward()
        opt.step()
    print("argv", sys.argv[1:], "name", __name__)
"""


def test_the_script_runs_as_main_with_its_arguments(tmp_path, probe, capsys):
    main([str(script(tmp_path, STEPPING)), "3", "--flag"])
    assert "argv ['3', '--flag'] name __main__" in capsys.readouterr().out


def test_an_error_finding_makes_the_exit_status_1(tmp_path, probe, capsys):
    assert main([str(script(tmp_path, STEPPING))]) == 1
    err = capsys.readouterr().err
    assert "grad-accumulation" in err and "probe fix" in err


def test_an_info_finding_alone_exits_0(tmp_path, probe):
    probe(_Info)
    assert main([str(script(tmp_path, STEPPING))]) == 0


def test_allowing_the_code_exits_0(tmp_path, probe):
    assert main(["--allow", "grad-accumulation", str(script(tmp_path, STEPPING))]) == 0


def test_json_lists_each_finding_with_code_severity_message_and_location(tmp_path, probe, capsys):
    out = tmp_path / "f.json"
    path = script(tmp_path, STEPPING)
    main(["--json", str(out), str(path), "4"])
    data = json.loads(out.read_text())
    (finding,) = data["findings"]
    assert finding["code"] == "grad-accumulation"
    assert finding["severity"] == "error"
    assert finding["count"] == 4
    assert finding["location"].endswith("train.py:8")
    assert data["exit_status"] == 1


def test_json_to_stdout_with_a_dash(tmp_path, probe, capsys):
    main(["--json", "-", str(script(tmp_path, STEPPING))])
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["findings"][0]["code"] == "grad-accumulation"


def test_a_crash_is_explained_and_the_original_traceback_still_shown(tmp_path, probe, capsys):
    path = script(
        tmp_path,
        """
        import torch
        torch.nn.Linear(4, 2)(torch.ones(3, 5))
    """,
    )
    assert main([str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "mat1 and mat2 shapes cannot be multiplied" in err
    assert "explained: mat1 and mat2" in err
    assert "runpy" not in err


def test_the_scripts_own_exit_status_is_kept(tmp_path, probe):
    probe()
    assert main([str(script(tmp_path, "import sys; sys.exit(3)"))]) == 3
    assert main([str(script(tmp_path, "import sys; sys.exit(0)"))]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.py"], "cannot run 'missing.py': no such file"),
        (["--allow", "grad-acumulation", "x.py"], "Did you mean 'grad-accumulation'"),
        ([], "no script given"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(tmp_path, argv, message, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.py").write_text("")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_list_codes_shows_the_whole_catalogue(capsys):
    from diagnostics import CATALOGUE

    assert main(["--list-codes"]) == 0
    out = capsys.readouterr().out
    assert all(code in out for code in CATALOGUE)


def test_ctrl_c_still_prints_what_was_found_so_far(tmp_path, probe, capsys):
    path = script(tmp_path, textwrap.dedent(STEPPING) + "raise KeyboardInterrupt\n")
    assert main([str(path)]) == 130
    err = capsys.readouterr().err
    assert "Interrupted" in err and "grad-accumulation" in err


def test_the_module_runs_as_a_real_command(tmp_path):
    path = script(tmp_path, "print('hello')")
    proc = subprocess.run(
        [sys.executable, "-m", "diagnostics", str(path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    assert "hello" in proc.stdout and "no faults found" in proc.stderr


def test_the_docs_carry_the_catalogue_table_exactly():
    from diagnostics._cli import codes_markdown

    docs = (Path(__file__).parents[1] / "docs" / "findings.md").read_text(encoding="utf-8")
    assert codes_markdown() in docs, (
        "docs/findings.md is out of date: regenerate its table with "
        "`python -m diagnostics --list-codes --markdown`"
    )
