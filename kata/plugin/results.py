"""The results of a run of the katas: the per-day summary, the JSON report, the learner's
progress, and the katas whose course files are missing or edited (not solved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kata import report as rpt
from kata.course import progress as _progress
from kata.course import shipped as _shipped
from kata.course.meta import META_FILE, TEST_FILE, KataMeta, course_root_of, kata_dir_of

from .state import RUN

__all__ = ["Results"]


# -- results: summary, JSON report, progress ----------------------------------------------------
_MISSING_TESTS = (
    "its test_kata.py is missing, so the kata cannot count as solved. "
    "'kata reset --tests {kata}' restores it."
)
_NO_TESTS = (
    "no test of its test_kata.py ran, so the kata cannot count as solved. "
    "'kata reset --tests {kata}' restores the course's tests."
)
_MODIFIED = (
    "your {files} from the course's, so the kata cannot count as solved (a kata is solved by "
    "the course's own tests). 'kata reset --tests {kata}' restores the course's files; yours "
    "are backed up."
)


def _last_line(text: str) -> str:
    """The error line of a collection failure (``E   SyntaxError: ...``), without its prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return errors[-1] if errors else (lines[-1] if lines else "")


def _katas_asked_for(config: pytest.Config) -> list[Path]:
    """The kata folders under the paths a run was given (not those named down to a test)."""
    found: list[Path] = []
    for arg in config.args:
        if "::" in arg:
            continue
        path = Path(arg)
        path = path if path.is_absolute() else Path(config.invocation_params.dir) / path
        if not path.is_dir() or path.name.startswith("_"):
            continue
        if (path / META_FILE).is_file():
            candidates = [path / META_FILE]
        elif (path / "katas").is_dir():
            path = path / "katas"
            candidates = sorted(path.rglob(META_FILE))
        elif "katas" in path.resolve().parts:
            candidates = sorted(path.rglob(META_FILE))
        else:
            continue
        for meta_file in candidates:
            kata_dir = meta_file.parent
            parts = kata_dir.relative_to(path).parts if kata_dir != path else ()
            if any(p.startswith(("_", ".")) for p in parts) or kata_dir in found:
                continue
            if kata_dir_of(kata_dir / TEST_FILE) is not None:
                found.append(kata_dir)
    return found


class Results:
    """Hooks of one run that gather the results; they run on the controller under xdist."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.run = config.stash[RUN]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.run.results.add(
            nodeid=report.nodeid,
            when=report.when,
            outcome=report.outcome,
            properties=report.user_properties,
            seconds=report.duration,
        )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A kata whose test file (its own, or one the learner added) cannot even be collected
        counts as failing, with the error."""
        if not report.failed:
            return
        path = self.config.rootpath / report.nodeid.split("::")[0]
        kata_dir = kata_dir_of(path)
        if kata_dir is None:
            return
        error = _last_line(report.longreprtext)
        self._add_problem(
            kata_dir,
            f"{path.name}::collection",
            f"{path.name} could not be collected: {error}" if error else
            f"{path.name} could not be collected.",
        )  # fmt: skip

    def _add_problem(self, kata_dir: Path, nodeid: str, problem: str) -> None:
        meta = self.run.meta(kata_dir)
        self.run.results.add(
            nodeid=nodeid,
            when="collect",
            outcome="failed",
            properties=[
                (rpt.ID, f"{kata_dir.parent.name}/{kata_dir.name}"),
                (rpt.DAY, kata_dir.parent.name),
                (rpt.TITLE, meta.title if isinstance(meta, KataMeta) else ""),
                (rpt.ROOT, str(course_root_of(kata_dir))),
                (rpt.PROBLEM, problem),
            ],
        )

    def _check_course_files(self) -> bool:
        """Katas asked for whose tests did not run, and tests the learner edited: not solved.
        True when it found one."""
        run = self.run
        before = {r.id: r.status for r in run.results.katas.values()}
        selected = not (self.config.option.keyword or self.config.option.markexpr)
        for kata_dir in _katas_asked_for(self.config):
            kata_id = f"{kata_dir.parent.name}/{kata_dir.name}"
            if kata_id in run.results.katas:
                continue
            if not (kata_dir / TEST_FILE).is_file():
                problem = _MISSING_TESTS.format(kata=kata_id)
                self._add_problem(kata_dir, f"{TEST_FILE}::missing", problem)
                run.problems.append(f"{kata_id}: {problem}")
            elif selected:
                problem = _NO_TESTS.format(kata=kata_id)
                self._add_problem(kata_dir, f"{TEST_FILE}::empty", problem)
                run.problems.append(f"{kata_id}: {problem}")
        # With --kata-solution or --kata-authoring: the author's files; a test edited before
        # 'kata ship' is work.
        authors = run.solution or run.authoring
        for result in [] if authors else run.results.katas.values():
            kata_dir = Path(result.root) / "katas" / result.id
            if not kata_dir.is_dir():
                kata_dir = Path(result.root) / result.id
            changed = _shipped.modified(kata_dir) if kata_dir.is_dir() else []
            if changed and (kata_dir / TEST_FILE).is_file():  # a missing one is said already
                result.modified = changed
                files = " and ".join(changed) + (" differ" if len(changed) > 1 else " differs")
                result.problem = result.problem or _MODIFIED.format(files=files, kata=result.id)
                run.problems.append(f"{result.id}: {result.problem}")
        return any(before.get(r.id, "solved") != r.status for r in run.results.katas.values())

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        run = self.run
        self._group_failures()
        if self._check_course_files() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if not run.results:
            return
        progress = self._record_progress() if run.use_progress else {}
        if run.report_path is not None:
            hints = {
                result.id: progress[Path(result.root)].hints_used(result.id)
                for result in run.results.katas.values()
                if Path(result.root) in progress
            }
            data = run.results.to_dict(seed=run.seed, solution=run.solution, hints=hints)
            rpt.write_json(run.report_path, data)

    def _group_failures(self) -> None:
        """A kata's failure blocks together, the katas in the course's order: under xdist the
        workers' reports arrive interleaved (the terminal summary prints them after this).
        Other tests keep their order, grouped by file."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        failed = getattr(reporter, "stats", {}).get("failed")
        if not failed:
            return

        def group(report: Any) -> str:
            kata_id = dict(getattr(report, "user_properties", ())).get(rpt.ID)
            return str(kata_id or report.nodeid.split("::")[0])

        failed.sort(key=group)

    def _record_progress(self) -> dict[Path, _progress.Progress]:
        """Load (repairing a corrupt file), record this run's outcomes, save."""
        by_root: dict[Path, _progress.Progress] = {}
        for result in self.run.results.katas.values():
            root = Path(result.root)
            if root not in by_root:
                by_root[root] = _progress.load(root, warn=False)
                problem = by_root[root].problem
                if problem:
                    self.run.problems.append(problem)
            if not self.run.solution and result.status != "skipped":
                # progress knows solved and failing: a kata out of time is failing
                status = "solved" if result.solved else "failing"
                by_root[root].mark(result.id, status, blind=self.run.blind)
        if not self.run.solution:
            for progress in by_root.values():
                try:
                    progress.save()
                except _progress.ProgressSaveError as exc:  # its message is the one line to show
                    self.run.problems.append(str(exc))
                except OSError as exc:
                    self.run.problems.append(f"The progress file could not be saved: {exc}")
        return by_root

    def _revealed(self) -> list[str]:
        """What the diagnosis would have said, for each kata solved in a blind run."""
        from diagnostics import CATALOGUE

        lines = []
        for result in sorted(self.run.results.katas.values(), key=lambda r: r.id):
            if not result.solved:
                continue
            kata_dir = Path(result.root) / "katas" / result.id
            meta = self.run.meta(kata_dir)
            if not isinstance(meta, KataMeta):
                continue
            lines.append(f"{result.id} solved blind. The diagnosis withheld was:")
            for code in meta.codes:
                info = CATALOGUE.get(code)
                what = f"{info.severity.value} {code}: {info.summary}" if info else code
                lines.append(f"  {what}")
            lines.append(f"  The lesson: {meta.concept.rstrip('.')}.")
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        run = self.run
        if not run.results:
            return
        variant = " (solutions)" if run.solution else ""
        terminalreporter.write_sep("=", f"katas, seed {run.seed}{variant}")
        for line in run.results.summary_lines():
            terminalreporter.write_line(line)
        if run.blind:
            for line in self._revealed():
                terminalreporter.write_line(line)
        for problem in run.problems:
            terminalreporter.write_line(f"warning: {problem}", yellow=True)
        if run.report_path is not None and not self.config.getoption("kata_report_quietly"):
            terminalreporter.write_line(f"kata report written to {run.report_path}")
