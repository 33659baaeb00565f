"""The IPython extension: %load_ext diagnostics and the %%diagnose cell magic."""

from __future__ import annotations

import pytest

pytest.importorskip("IPython")


@pytest.fixture(scope="module")
def ip():
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "diagnostics")
    return shell


def test_a_cell_runs_in_the_user_namespace_and_its_report_is_kept(ip, capsys):
    ip.run_cell_magic("diagnose", "--report rep", "import torch\nanswer = 6 * 7\n")
    assert ip.user_ns["answer"] == 42
    assert ip.user_ns["rep"].findings == []
    assert "no faults found" in capsys.readouterr().out


def test_a_crashing_cell_is_explained_after_its_traceback(ip, capsys):
    ip.run_cell_magic(
        "diagnose", "--report rep", "import torch\ntorch.nn.Linear(4, 2)(torch.ones(3, 5))\n"
    )
    out = capsys.readouterr().out
    assert "mat1 and mat2 shapes cannot be multiplied" in out
    assert "shape-mismatch" in ip.user_ns["rep"].codes()


def test_an_unknown_code_is_refused_with_a_suggestion(ip, capsys):
    ip.run_cell_magic("diagnose", "--allow shape-mismach", "x = 1")
    assert "Did you mean 'shape-mismatch'" in capsys.readouterr().out


def test_a_malformed_magic_line_says_how_to_use_it(ip, capsys):
    ip.run_cell_magic("diagnose", "--bogus", "x = 1")
    assert "usage: %%diagnose" in capsys.readouterr().out
