"""The diagnostics pytest plugin, black-box through pytester."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

MISSING_ZERO_GRAD = """
import torch
import torch.nn.functional as F

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
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_failing_test_shows_the_findings_of_its_run(project):
    project.makepyfile(
        test_fail="""
        from trainlib import train

        def test_model_learns(diagnose):
            train()
            assert False, "model did not learn"
    """
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- diagnostics -*", "*grad-accumulation*"])


def test_diagnose_option_watches_every_test_and_summarises(project):
    project.makepyfile(
        test_plain="""
        from trainlib import train

        def test_a():
            train()
    """
    )
    result = project.runpytest_subprocess("--diagnose", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*watching every test: on*"])
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
    result = project.runpytest_subprocess("--diagnose", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- diagnostics -*", "*grad-accumulation*"])


def test_the_header_names_torch_and_the_device(project):
    project.makepyfile(test_x="def test_x(): pass")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["diagnostics: torch *, device *"])
