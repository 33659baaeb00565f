"""python -m diagnostics: running scripts, exit codes, JSON and usage errors."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from diagnostics import _watch as _engine
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


# -- user-provided names are shown as written -----------------------------------------------


def test_names_with_rich_markup_are_shown_literally_in_the_report(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short location, not cut by the panel's width
    path = script(
        tmp_path,
        """
        import torch
        from torch import nn

        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self.heads = nn.ModuleDict({"head[cls]": nn.Linear(4, 2), "[/]": nn.Linear(2, 1)})

            def forward(self, x):
                return self.heads["[/]"](self.heads["head[cls]"](x))

        type("Net[/]", (Base,), {})()(torch.ones(3, 5))
    """,
        name="[bold]run[red].py",
    )
    assert main([path.name]) == 1
    err = capsys.readouterr().err
    assert "MarkupError" not in err
    assert "heads.head[cls] (Linear)" in err and "shape-mismatch" in err
    assert "[bold]run[red].py:" in err  # the location, with its odd file name


# -- exit status -------------------------------------------------------------------------------


class _Warning(Check):
    def on_step_pre(self, optimizer):
        self.emit("adam-weight-decay", key="w", message="a warning", fix="maybe")


def test_a_warning_alone_is_advice_shown_with_exit_status_0(tmp_path, probe, capsys):
    probe(_Warning)
    assert main([str(script(tmp_path, STEPPING))]) == 0
    err = capsys.readouterr().err
    assert "adam-weight-decay" in err and "1 warning" in err
    assert "--strict makes them fail" in err


def test_strict_makes_a_warning_fail_the_run(tmp_path, probe, capsys):
    probe(_Warning)
    assert main(["--strict", str(script(tmp_path, STEPPING))]) == 1
    assert "--strict makes them fail" not in capsys.readouterr().err


def test_an_error_finding_overrides_the_scripts_own_status(tmp_path, probe):
    assert main([str(script(tmp_path, STEPPING + "sys.exit(3)\n"))]) == 1


@pytest.mark.parametrize(("code", "status"), [(256, 0), (257, 1), (-1, 255), (2**70, 255)])
def test_the_scripts_exit_code_is_kept_as_python_itself_would_exit(tmp_path, probe, code, status):
    probe()
    assert main([str(script(tmp_path, f"import sys; sys.exit({code})"))]) == status


def test_an_error_finding_with_sys_exit_256_exits_1(tmp_path, probe):
    # Python would exit 0 with sys.exit(256): the finding must still fail the run.
    assert main([str(script(tmp_path, STEPPING + "sys.exit(256)\n"))]) == 1


def test_a_message_given_to_sys_exit_is_printed_and_exits_1(tmp_path, probe, capsys):
    probe()
    assert main([str(script(tmp_path, "import sys; sys.exit('bad config')"))]) == 1
    assert "bad config" in capsys.readouterr().err


def test_a_base_exception_subclass_is_reported_like_any_crash(tmp_path, probe, capsys):
    probe()
    path = script(
        tmp_path,
        """
        class Stop(BaseException):
            pass

        raise Stop("halt")
    """,
    )
    assert main([str(path)]) == 1
    err = capsys.readouterr().err
    assert "The script crashed" in err and "Stop: halt" in err
    assert "no faults found" in err  # the report is printed
    assert "_cli.py" not in err and "runpy" not in err  # no traceback of the command itself


GCN = '''
"""As pytorch/examples' gcn: a two-layer GCN trained full-batch with Adam and a deliberate
L2 penalty (weight_decay=5e-4, as the GCN paper prescribes)."""
import torch
import torch.nn.functional as F
from torch import nn


class GraphConv(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, x, adj):
        return adj @ self.linear(x)


class GCN(nn.Module):
    def __init__(self, n_in, n_hidden, n_classes):
        super().__init__()
        self.conv1 = GraphConv(n_in, n_hidden)
        self.conv2 = GraphConv(n_hidden, n_classes)

    def forward(self, x, adj):
        x = F.dropout(F.relu(self.conv1(x, adj)), p=0.5, training=self.training)
        return F.log_softmax(self.conv2(x, adj), dim=1)


torch.manual_seed(0)
n = 60
edges = (torch.rand(n, n) < 0.1).float()
adj = ((edges + edges.T) > 0).float() + torch.eye(n)
adj = adj / adj.sum(1, keepdim=True)
x, y = torch.randn(n, 8), torch.randint(0, 3, (n,))
train_mask = torch.arange(n) < 40
model = GCN(8, 16, 3)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
for epoch in range(30):
    model.train()
    optimizer.zero_grad()
    loss = F.nll_loss(model(x, adj)[train_mask], y[train_mask])
    loss.backward()
    optimizer.step()
model.eval()
with torch.no_grad():
    accuracy = (model(x, adj).argmax(1) == y)[~train_mask].float().mean().item()
print(f"accuracy {accuracy:.2f}")
'''


def test_the_gcn_example_with_a_deliberate_l2_penalty_warns_and_exits_0(tmp_path, capsys):
    path = script(tmp_path, GCN, name="gcn.py")
    out = tmp_path / "gcn.json"
    assert main(["--json", str(out), str(path)]) == 0
    assert "warning adam-weight-decay" in capsys.readouterr().err
    data = json.loads(out.read_text())
    assert [f["code"] for f in data["findings"]] == ["adam-weight-decay"]
    assert data["exit_status"] == 0 and data["strict"] is False
    assert main(["--strict", str(path)]) == 1


# -- the JSON destination ----------------------------------------------------------------------

TOUCHING = """
    from pathlib import Path
    Path("ran").write_text("yes")
"""


@pytest.mark.parametrize(
    ("dest", "message"),
    [
        ("missing/f.json", "the folder * does not exist"),
        ("out", "'out' is a folder"),
        ("train.py/f.json", "train.py is a file, not a folder"),
    ],
)
def test_a_bad_json_destination_is_a_usage_error_before_the_script_runs(
    tmp_path, probe, monkeypatch, capsys, dest, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    path = script(tmp_path, TOUCHING)
    assert main(["--json", dest, str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert fnmatch.fnmatch(err, f"python -m diagnostics: error: --json*{message}*")
    assert not (tmp_path / "ran").exists()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere"
)
def test_an_unwritable_json_destination_is_a_usage_error(tmp_path, probe, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["--json", str(locked / "f.json"), str(script(tmp_path, TOUCHING))]) == 2
    assert "permission denied" in capsys.readouterr().err


def test_a_relative_json_path_is_resolved_where_the_command_was_run(tmp_path, probe, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    path = script(tmp_path, "import os\nos.chdir('elsewhere')\n" + textwrap.dedent(STEPPING))
    main(["--json", "findings.json", str(path)])
    assert json.loads((tmp_path / "findings.json").read_text())["findings"]
    assert not (tmp_path / "elsewhere" / "findings.json").exists()


def test_json_to_stdout_carries_the_json_alone(tmp_path):
    path = script(
        tmp_path,
        """
        import os, sys
        print("from print")
        sys.stdout.flush()
        os.system("echo from a subprocess")
        os.write(1, b"from file descriptor 1\\n")
    """,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "diagnostics", "--json", "-", str(path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["exit_status"] == 0
    for line in ("from print", "from a subprocess", "from file descriptor 1"):
        assert line in proc.stderr


# -- child processes ---------------------------------------------------------------------------

MISSING_ZERO_GRAD = """
    import torch
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        model(torch.ones(1, 2)).sum().backward()
        opt.step()
"""


def _command(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diagnostics", *args, str(path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
        timeout=300,
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
@pytest.mark.parametrize(("fault", "status"), [(MISSING_ZERO_GRAD, 1), ("", 0)])
def test_a_forked_child_prints_no_report_and_keeps_its_own_status(tmp_path, fault, status):
    path = script(
        tmp_path,
        textwrap.dedent(fault)
        + textwrap.dedent("""
        import os, sys
        pid = os.fork()
        if pid == 0:
            sys.exit(0)
        print("child exit status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """),
    )
    proc = _command(path)
    assert proc.returncode == status, proc.stderr
    assert "child exit status 0" in proc.stdout
    assert proc.stderr.count("diagnostics: ") == 1  # one summary line: the parent's


def test_dataloader_workers_print_no_report(tmp_path):
    path = script(
        tmp_path,
        """
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        if __name__ == "__main__":
            data = TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
            model = torch.nn.Linear(4, 1)
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            for x, y in DataLoader(data, batch_size=8, num_workers=2):
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                opt.step()
    """,
    )
    proc = _command(path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("diagnostics: ") == 1


def test_listing_the_codes_does_not_import_torch():
    code = "import sys; from diagnostics._cli import main; main(['--list-codes']); "
    code += "print('torch imported:', 'torch' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1]
    )
    assert "torch imported: False" in proc.stdout, proc.stderr
