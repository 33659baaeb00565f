"""The diagnostics pytest plugin, black-box through pytester."""

from __future__ import annotations

import pytest

from tests._forked import runpytest_forked

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

MISSING_ZERO_GRAD = """
import torch
import torch.nn.functional as F


def adam_with_decay(steps=4):
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4)
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(model(torch.ones(8, 3)), torch.zeros(8, 1)).backward()
        opt.step()

def train(steps=4):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(steps):
        F.mse_loss(model(torch.ones(8, 3)), torch.zeros(8, 1)).backward()
        opt.step()
    return model
"""


@pytest.fixture
def project(pytester):
    pytester.makepyfile(trainlib=MISSING_ZERO_GRAD)
    return pytester


def test_the_diagnose_fixture_yields_a_live_report(project):
    project.makepyfile(
        test_fixture="""
        from trainlib import train

        def test_report_is_live(diagnose):
            train()
            assert diagnose.findings is not None
            assert not diagnose.internal_warnings
    """
    )
    runpytest_forked(project, "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_failing_test_shows_the_findings_of_its_run(project):
    project.makepyfile(
        test_fail="""
        from trainlib import train

        def test_model_learns(diagnose):
            train()
            assert False, "model did not learn"
    """
    )
    result = runpytest_forked(project, "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- diagnostics -*", "*grad-accumulation*"])


def test_diagnose_option_watches_every_test_and_summarises(project):
    project.makepyfile(
        test_plain="""
        from trainlib import adam_with_decay

        def test_a():
            adam_with_decay()
    """
    )
    result = runpytest_forked(project, "--diagnose", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*watching every test: on*", "*test_a: adam-weight-decay"])
    result.assert_outcomes(passed=1)


def test_findings_reach_the_failure_report_under_xdist(project):
    project.makepyfile(
        test_fail="""
        from trainlib import train

        def test_model_learns():
            train()
            raise AssertionError("model did not learn")
    """
    )
    result = runpytest_forked(project, "--diagnose", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- diagnostics -*", "*grad-accumulation*"])


def test_under_diagnose_the_header_names_torch_and_the_device(project):
    project.makepyfile(test_x="def test_x(): pass")
    result = runpytest_forked(project, "--diagnose", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["diagnostics: torch *, device *"])


def test_a_plain_run_prints_no_header_line(project):
    project.makepyfile(test_x="def test_x(): pass")
    result = runpytest_forked(project, "-p", "no:cacheprovider")
    result.stdout.no_fnmatch_line("diagnostics:*")


# -- what --diagnose may change -----------------------------------------------------------------


def test_under_diagnose_a_passing_test_with_an_error_finding_fails_and_says_why(project):
    project.makepyfile(test_plain="from trainlib import train\n\ndef test_a():\n    train()\n")
    result = runpytest_forked(project, "--diagnose", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*The test passed, but diagnostics found 1 finding (grad-accumulation)*",
            "*- diagnostics -*",
            "*Fix:*",
        ]
    )
    result.stdout.no_fnmatch_line("*DiagnosisFailed*")  # the message alone, no traceback of ours
    allowed = runpytest_forked(
        project, "--diagnose", "--diagnose-allow", "grad-accumulation", "-p", "no:cacheprovider"
    )
    allowed.assert_outcomes(passed=1)


def test_a_warning_fails_a_test_only_under_diagnose_strict(project):
    project.makepyfile(
        test_adam="from trainlib import adam_with_decay\n\ndef test_a():\n    adam_with_decay()\n"
    )
    result = runpytest_forked(project, "--diagnose", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*diagnostics findings*", "*test_a: adam-weight-decay"])
    strict = runpytest_forked(project, "--diagnose-strict", "-p", "no:cacheprovider")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*found 1 finding (adam-weight-decay)*--diagnose-strict*"])


def test_a_test_that_reads_its_own_report_is_judged_by_its_asserts(project):
    project.makepyfile(
        test_fixture="""
        from trainlib import train

        def test_the_fault_is_found(diagnose):
            train()
            assert "grad-accumulation" in diagnose.codes()
    """
    )
    result = runpytest_forked(project, "--diagnose-strict", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_an_unknown_allowed_code_is_a_usage_error(project):
    project.makepyfile(test_x="def test_x(): pass")
    result = runpytest_forked(
        project, "--diagnose", "--diagnose-allow", "grad-acumulation", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*Did you mean 'grad-accumulation'*"])


# -- the plugins' names, and what a plain run imports -------------------------------------------

TORCH_AT_THE_END = """
import sys

def pytest_sessionfinish():
    print("torch imported:", "torch" in sys.modules)
"""


@pytest.mark.parametrize(
    "args",
    [(), ("-p", "diagnostics._pytest_plugin", "-p", "kata.plugin.hooks")],
    ids=["entry points", "module names"],
)
def test_a_plain_run_with_the_plugins_loaded_does_not_import_torch(project, args):
    project.makeconftest(TORCH_AT_THE_END)
    project.makepyfile(test_x="import sys\n\ndef test_x():\n    assert 'torch' not in sys.modules")
    result = project.runpytest_subprocess("-s", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*torch imported: False*"])
    result.stdout.no_fnmatch_line("*already registered*")


def test_the_diagnose_fixture_imports_torch_when_used(project):
    project.makeconftest(TORCH_AT_THE_END)
    project.makepyfile(test_x="def test_x(diagnose):\n    pass\n")
    result = project.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*torch imported: True*"])


@pytest.mark.parametrize(
    ("name", "module"),
    [("diagnostics", "diagnostics._pytest_plugin"), ("kata", "kata.plugin.hooks")],
)
def test_no_name_switches_a_plugin_off(project, name, module):
    project.makeconftest(
        f"""
        import sys

        def pytest_sessionfinish(session):
            plugin = sys.modules.get("{module}")
            on = plugin is not None and session.config.pluginmanager.is_registered(plugin)
            print("plugin on:", on)
        """
    )
    project.makepyfile(test_x="def test_x():\n    pass\n")
    on = runpytest_forked(project, "-s", "-p", "no:cacheprovider")
    on.stdout.fnmatch_lines(["*plugin on: True*"])
    off = runpytest_forked(project, "-s", "-p", f"no:{name}", "-p", "no:cacheprovider")
    off.stdout.fnmatch_lines(["*plugin on: False*"])


def test_the_diagnose_fixture_is_gone_with_its_plugin(project):
    project.makepyfile(test_x="def test_x(diagnose):\n    pass\n")
    result = runpytest_forked(project, "-p", "no:diagnostics", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*diagnose*"])


# -- a kata still fails on a warning ------------------------------------------------------------

KATA_TOML = """
schema = 1
title = "Adam's weight decay"
concept = "Coupled L2 against decoupled weight decay"
codes = ["adam-weight-decay"]
files = ["train.py"]
accelerator = false
hints = ["hint 1", "hint 2", "hint 3"]

[interview]
question = "A question?"
answer = "An answer."
"""


def test_a_kata_still_fails_on_a_warning_that_diagnose_only_shows(project):
    kata = project.mkdir("katas").joinpath("day01", "01_adam")
    kata.mkdir(parents=True)
    kata.joinpath("kata.toml").write_text(KATA_TOML)
    kata.joinpath("train.py").write_text(MISSING_ZERO_GRAD)
    kata.joinpath("test_kata.py").write_text(
        "def test_it_trains(kata):\n    kata.load('train.py').adam_with_decay()\n"
    )
    project.makeini("[pytest]\naddopts = --import-mode=importlib -p no:cacheprovider\n")
    failed = runpytest_forked(project, "katas", "--kata-no-progress")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*adam-weight-decay*"])
    project.makepyfile(
        test_plain="from trainlib import adam_with_decay\n\ndef test_a():\n    adam_with_decay()\n"
    )
    runpytest_forked(project, "test_plain.py", "--diagnose").assert_outcomes(passed=1)
