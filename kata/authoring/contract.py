"""The course contract: what every kata must be, checked in one place.

``kata validate`` and the project's own course check (tests/test_katas.py) both call
:func:`check_course`, so that the two can never disagree. For each kata:

- its files: metadata complete and not the template's, no stray file, a test file that goes
  through the ``kata`` fixture, hints that differ from each other, a solution folder holding
  exactly the declared files, a shipped copy equal to the kata's files;
- its solution's diff to the shipped files: reported, and a changed numeric constant (the
  learning rate, the epochs) flagged unless ``solution_may_change`` in kata.toml names it;
- its runs, for every seed: as shipped its own asserts fail (the diagnosis gate off), not
  through a typo (a ``NameError`` is not a training bug), and diagnostics report exactly the
  declared codes; solved, its tests pass with no error or warning finding; both within its time
  budget. Each kata's time is reported.

For each day: a README.md with the day's lesson.

The runs happen in fresh processes, one per variant (broken, solved) side by side, each
running the seeds one after the other over all katas at once, read back through
``--kata-report`` and the probe plugin (kata/running/probe.py).
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import os
import subprocess
import sys
import tempfile
import tokenize
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kata.course.meta import DEFAULT_TIMEOUT, LEVELS, META_FILE, TEST_FILE, KataMeta, KataMetaError
from kata.course.shipped import SHIPPED_DIR, differences, shipped_file
from kata.running.runner import ENV, pytest_args

__all__ = [
    "DEFAULT_TIME_BUDGET_S",
    "CourseCheck",
    "KataCheck",
    "check_course",
    "constant_changes",
    "day_problems",
    "static_problems",
]

DEFAULT_TIME_BUDGET_S = DEFAULT_TIMEOUT
KATA_EXTRAS = frozenset({META_FILE, TEST_FILE, "README.md"})
DAY_README = "README.md"
VARIANTS = ("broken", "solved")
# A "fault" that raises one of these in the kata's own file is a typo, not a training bug.
TYPO_ERRORS = frozenset(
    {
        "NameError",
        "UnboundLocalError",
        "SyntaxError",
        "IndentationError",
        "TabError",
        "ImportError",
        "ModuleNotFoundError",
    }
)
# A variant's run may take every kata's budget for every seed, plus starting up; past that a
# kata must be stuck, and the run is stopped.
_START_S = 120.0

_BYPASS = (
    "{test_file} line {line}: {what}: the test reaches the kata's file without the kata "
    "fixture, so it runs the file next to it (never the solution with --kata-solution), "
    "outside the run's seed and diagnosis. Take the 'kata' fixture and load the file with "
    "kata.load({name!r})."
)


# -- the result ---------------------------------------------------------------------------------
@dataclass
class KataCheck:
    """What the contract found about one kata (or one kata folder that does not load)."""

    id: str
    problems: list[str] = field(default_factory=list)
    seconds: float | None = None  # the slowest run of its tests, over seeds and variants
    diff: list[str] = field(default_factory=list)  # per file: "train.py +2 -1 (lines 40-42)"


@dataclass
class CourseCheck:
    katas: dict[str, KataCheck] = field(default_factory=dict)
    days: dict[str, list[str]] = field(default_factory=dict)  # day folder -> problems
    seeds: int = 0

    @property
    def failed(self) -> int:
        """How many katas and days have problems."""
        katas = sum(bool(k.problems) for k in self.katas.values())
        return katas + sum(bool(p) for p in self.days.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": self.seeds,
            "katas": {k: asdict(v) for k, v in self.katas.items()},
            "days": self.days,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CourseCheck:
        return cls(
            katas={k: KataCheck(**v) for k, v in data["katas"].items()},
            days=data["days"],
            seeds=data["seeds"],
        )


def check_course(
    root: Path,
    entries: Sequence[KataMeta | KataMetaError],
    *,
    seeds: int = 3,
    run: bool = True,
    time_budget: float | None = None,
    template: dict[str, str] | None = None,
    jobs: int | None = None,
) -> CourseCheck:
    """Check ``entries`` (katas of the course at ``root``) against the contract.

    ``time_budget`` overrides every kata's own; ``template`` holds the template's placeholder
    texts (kata/authoring/scaffold.py), which no kata may keep.
    """
    result = CourseCheck(seeds=seeds if run else 0)
    metas = []
    for entry in entries:
        if isinstance(entry, KataMetaError):
            kata_dir = entry.path.parent
            result.katas[f"{kata_dir.parent.name}/{kata_dir.name}"] = KataCheck(
                f"{kata_dir.parent.name}/{kata_dir.name}", [str(entry)]
            )
            continue
        metas.append(entry)
        result.katas[entry.id] = KataCheck(
            entry.id, static_problems(entry, template=template or {}), diff=diff_summary(entry)
        )
    result.days = day_problems(sorted({e.dir.parent for e in metas}))
    if run and metas:
        runs = _run_course(root, metas, seeds, jobs=jobs, budget=time_budget)
        for meta in metas:
            check = result.katas[meta.id]
            budget = time_budget or _budget_of(meta)
            check.problems.extend(run_problems(meta, runs, seeds=seeds, budget=budget))
            check.seconds = runs.seconds(meta)
    return result


def _budget_of(meta: KataMeta) -> float:
    return meta.timeout


# -- the files ----------------------------------------------------------------------------------
def static_problems(meta: KataMeta, *, template: dict[str, str]) -> list[str]:
    """What is wrong with a kata's files and texts, without running it."""
    found = []
    for name, value in _texts(meta).items():
        if template.get(name) == value:
            found.append(
                f"{meta.meta_path}: field {name!r}: still the template's text; write this "
                "kata's own."
            )
    found.extend(_hint_problems(meta))
    if meta.level is None:
        found.append(
            f"{meta.meta_path}: field 'level': missing; say where the kata sits in its day's "
            f"ramp: level = {' | '.join(repr(v) for v in LEVELS)}."
        )
    test_file = meta.dir / TEST_FILE
    if not test_file.is_file():
        found.append(f"{test_file}: missing; a kata needs its tests.")
    else:
        found.extend(fixture_bypasses(meta))
    found.extend(_solution_problems(meta))
    allowed = KATA_EXTRAS | set(meta.files)
    for path in sorted(meta.dir.iterdir()):
        if path.name not in allowed and not _ignored(path.name):
            found.append(
                f"{path}: stray file; list it in field 'files' of {meta.meta_path}, or remove it."
            )
    found.extend(differences(meta))
    return found


def _ignored(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__"


def _texts(meta: KataMeta) -> dict[str, str]:
    texts = {"title": meta.title, "concept": meta.concept}
    texts.update({f"hints[{i}]": h for i, h in enumerate(meta.hints)})
    texts["interview.question"] = meta.interview_question
    texts["interview.answer"] = meta.interview_answer
    return texts


def _hint_problems(meta: KataMeta) -> list[str]:
    found = []
    seen: dict[str, int] = {}
    for number, hint in enumerate(meta.hints, start=1):
        key = " ".join(hint.lower().split()).rstrip(".!?")
        if key in seen:
            found.append(
                f"{meta.meta_path}: field 'hints': hint {number} repeats hint {seen[key]}; "
                "each hint says more than the one before (gentle, precise, nearly the fix)."
            )
        else:
            seen[key] = number
    return found


def _solution_problems(meta: KataMeta) -> list[str]:
    found = []
    folder = meta.solution_dir
    if not folder.is_dir():
        return [f"{folder}: missing; the kata's reference solution lives there."]
    for name in meta.files:
        solution = folder / name
        if not solution.is_file():
            found.append(f"{solution}: missing (field 'files' of {meta.meta_path} lists {name!r}).")
        elif solution.read_bytes() == (meta.dir / name).read_bytes():
            found.append(
                f"{meta.dir / name}: identical to its solution {solution}; the kata has no fault."
            )
        elif meta.kind != "build":  # a build kata's solution writes new code, constants and all
            found.extend(_constant_problems(meta, name))
    extra = sorted(
        p.name
        for p in folder.iterdir()
        if p.name not in meta.files and p.name != SHIPPED_DIR and not _ignored(p.name)
    )
    for name in extra:
        found.append(
            f"{folder / name}: stray file; the solution folder holds exactly the kata's files "
            f"{list(meta.files)} (and its {SHIPPED_DIR}/ copy)."
        )
    return found


def day_problems(day_dirs: Sequence[Path]) -> dict[str, list[str]]:
    """Each day folder needs its lesson: a README.md with some text in it."""
    found: dict[str, list[str]] = {}
    for day_dir in day_dirs:
        readme = day_dir / DAY_README
        problems = found.setdefault(day_dir.name, [])
        if not readme.is_file():
            problems.append(f"{readme}: missing; write the day's lesson there.")
            continue
        text = readme.read_text(encoding="utf-8", errors="replace")
        words = [line for line in text.splitlines() if line.strip().lstrip("#").strip()]
        if len(words) < 2:
            problems.append(
                f"{readme}: {'empty' if not text.strip() else 'a title and nothing else'}; "
                "write the day's lesson there (what the katas teach and in what order)."
            )
    return found


# -- the test file goes through the kata fixture --------------------------------------------------
def fixture_bypasses(meta: KataMeta) -> list[str]:
    """Places where ``test_kata.py`` reaches a learner file without the ``kata`` fixture."""
    test_file = meta.dir / TEST_FILE
    try:
        tree = ast.parse(test_file.read_text(encoding="utf-8"), filename=str(test_file))
    except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
        return [f"{test_file}: cannot be parsed ({exc}); fix it so that the tests can run."]
    stems = {Path(name).stem: name for name in meta.files}
    found = []

    def add(node: ast.AST, what: str, name: str) -> None:
        line = getattr(node, "lineno", 0)
        found.append(_BYPASS.format(test_file=test_file, line=line, what=what, name=name))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in stems:
                    add(node, f"'import {alias.name}'", stems[alias.name.split(".")[0]])
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")[0]
            if module in stems:
                add(node, f"'from {node.module} import ...'", stems[module])
        elif isinstance(node, ast.Call) and not _is_kata_call(node):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    named = Path(arg.value).name
                    if named in meta.files or (arg.value in stems and _imports_by_name(node)):
                        add(node, f"a call with {arg.value!r}", stems.get(Path(named).stem, named))
                        break
    return found


def _is_kata_call(node: ast.Call) -> bool:
    """``kata.load(...)`` / ``kata.path(...)``: the fixture's own doors."""
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr in ("load", "path")


def _imports_by_name(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__", "spec_from_file_location", "run_module")


# -- the solution's diff ------------------------------------------------------------------------
@dataclass(frozen=True)
class ConstantChange:
    line: int  # in the solution
    name: str | None  # the variable or keyword holding it, when there is one
    old: str
    new: str


def constant_changes(shipped: str, solution: str) -> list[ConstantChange]:
    """Numeric constants the solution changes, compared token by token with the shipped file."""
    old, new = _tokens(shipped), _tokens(solution)
    matcher = difflib.SequenceMatcher(
        None, [t[:2] for t in old], [t[:2] for t in new], autojunk=False
    )
    changes = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace" or not (_numeric(old[i1:i2]) and _numeric(new[j1:j2])):
            continue
        changes.append(
            ConstantChange(
                line=new[j1][2],
                name=_holder(old, i1),
                old="".join(t[1] for t in old[i1:i2]),
                new="".join(t[1] for t in new[j1:j2]),
            )
        )
    return changes


_SKIPPED_TOKENS = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


def _tokens(source: str) -> list[tuple[int, str, int]]:
    """(type, text, line) of every meaningful token; a file that does not tokenize has none."""
    try:
        return [
            (t.type, t.string, t.start[0])
            for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type not in _SKIPPED_TOKENS
        ]
    except (tokenize.TokenError, SyntaxError):
        return []


def _numeric(tokens: list[tuple[int, str, int]]) -> bool:
    kinds = {(t[0], t[1]) if t[0] == tokenize.OP else (t[0], "") for t in tokens}
    return (tokenize.NUMBER, "") in kinds and kinds <= {
        (tokenize.NUMBER, ""),
        (tokenize.OP, "-"),
        (tokenize.OP, "+"),
    }


def _holder(tokens: list[tuple[int, str, int]], at: int) -> str | None:
    """The name a constant is given to: ``lr=0.1``, ``EPOCHS = 5``, ``"lr": 0.1``."""
    if at >= 2 and tokens[at - 1][1] in ("=", ":"):
        kind, text, _ = tokens[at - 2]
        if kind == tokenize.NAME:
            return text
        if kind == tokenize.STRING:
            try:
                key = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return None
            return key if isinstance(key, str) else None
    return None


def _constant_problems(meta: KataMeta, name: str) -> list[str]:
    shipped = shipped_file(meta, name)
    if not shipped.is_file():
        return []  # the missing copy is reported on its own
    allowed = set(meta.solution_may_change)
    found = []
    for change in constant_changes(_read(shipped), _read(meta.solution_dir / name)):
        if "*" in allowed or (change.name and change.name in allowed):
            continue
        what = f"the constant {change.name}" if change.name else "a constant"
        allow = (
            f"solution_may_change = [{change.name!r}]"
            if change.name
            else "solution_may_change = ['*']"
        )
        found.append(
            f"{meta.solution_dir / name} line {change.line}: the solution changes {what} from "
            f"{change.old} to {change.new}, beyond the fault. A learner who fixes only the fault "
            f"must pass: put the shipped value back, or, if this change is the fix, say so in "
            f"{meta.meta_path}: {allow}."
        )
    return found


def diff_summary(meta: KataMeta) -> list[str]:
    """Per learner file, the solution's diff to the shipped copy: ``train.py +2 -1 (line 40)``."""
    summary = []
    for name in meta.files:
        shipped, solution = shipped_file(meta, name), meta.solution_dir / name
        if not shipped.is_file() or not solution.is_file():
            continue
        old, new = _read(shipped).splitlines(), _read(solution).splitlines()
        added = removed = 0
        lines: list[int] = []
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                removed += i2 - i1
                added += j2 - j1
                lines.extend(range(j1 + 1, max(j2, j1 + 1) + 1))
        where = ""
        if lines:
            first, last = min(lines), max(lines)
            where = f" (line {first})" if first == last else f" (lines {first}-{last})"
        summary.append(f"{name} +{added} -{removed}{where}")
    return summary


def unified_diff(meta: KataMeta) -> str:
    """The solution's full diff to the shipped files."""
    parts: list[str] = []
    for name in meta.files:
        shipped, solution = shipped_file(meta, name), meta.solution_dir / name
        if shipped.is_file() and solution.is_file():
            parts.extend(
                difflib.unified_diff(
                    _read(shipped).splitlines(keepends=True),
                    _read(solution).splitlines(keepends=True),
                    f"{meta.id}/{name} (shipped)",
                    f"{meta.id}/{name} (solution)",
                )
            )
    return "".join(parts)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


# -- the runs -----------------------------------------------------------------------------------
@dataclass
class _Runs:
    """Per (variant, seed): the kata report's entries and the probe's exceptions, per kata id."""

    reports: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    probes: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # variant -> why it did not finish

    def entry(self, variant: str, seed: int, kata_id: str) -> dict[str, Any] | None:
        return self.reports.get((variant, seed), {}).get(kata_id)

    def seconds(self, meta: KataMeta) -> float | None:
        times = [
            float(entry["seconds"])
            for (_, _), katas in self.reports.items()
            if (entry := katas.get(meta.id)) is not None
        ]
        return round(max(times), 2) if times else None


# One process per variant runs the seeds one after the other: torch is imported once per
# process, and learner modules get a fresh name at each load, so runs do not see each other.
_DRIVER = """
import sys, pytest
from kata.running.runner import Runner
Runner(echo=lambda text: None).warm()  # torch's lazy set-up is no kata's time
out, seeds, args = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
codes = [pytest.main([*args, f"--kata-seed={s}", f"--kata-report={out}/report-{s}.json",
                      f"--kata-probe={out}/probe-{s}.json"]) for s in seeds]
sys.exit(max(codes))
"""


def _run_course(
    root: Path, metas: list[KataMeta], seeds: int, *, jobs: int | None, budget: float | None
) -> _Runs:
    runs = _Runs()
    limit = _START_S + seeds * sum(budget or _budget_of(m) for m in metas)
    dirs = [m.dir for m in metas]
    with tempfile.TemporaryDirectory(prefix="kata-validate-") as tmp:

        def run(variant: str) -> None:
            out = Path(tmp) / variant
            out.mkdir()
            args = pytest_args(dirs, root=root, solution=variant == "solved", record_progress=False)
            args = [a for a in args if not a.startswith("--kata-seed")]
            args += ["-p", "kata.running.probe", "--tb=no", "--continue-on-collection-errors"]
            args.append("--kata-authoring")  # a stale shipped record is reported on its own
            if variant == "broken":
                args.append("--kata-no-gate")  # its own asserts must catch the fault
            seed_list = ",".join(str(s) for s in range(seeds))
            try:
                done = subprocess.run(
                    [sys.executable, "-c", _DRIVER, str(out), seed_list, *args],
                    cwd=root, env=_env(), capture_output=True, text=True, timeout=limit,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                runs.failures[variant] = (
                    f"did not finish in {limit:.0f} s, the katas' time budgets together: a "
                    "kata's training may never end. 'kata check KATA' on each kata finds it."
                )
                return
            for seed in range(seeds):
                report, probe = out / f"report-{seed}.json", out / f"probe-{seed}.json"
                if done.returncode not in (0, 1) or not report.is_file():
                    output = (done.stdout + done.stderr)[-3000:]
                    runs.failures[variant] = f"stopped with exit code {done.returncode}:\n{output}"
                    return
                runs.reports[(variant, seed)] = json.loads(report.read_text())["katas"]
                runs.probes[(variant, seed)] = (
                    json.loads(probe.read_text()) if probe.is_file() else {}
                )

        workers = max(1, min(len(VARIANTS), jobs or os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, VARIANTS))
    return runs


def _env() -> dict[str, str]:
    env = dict(os.environ, **ENV)
    env["OMP_NUM_THREADS"] = "1"  # the katas are tiny: one thread each, as a kata runs
    project = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [project, env.get("PYTHONPATH")]))
    return env


def run_problems(meta: KataMeta, runs: _Runs, *, seeds: int, budget: float) -> list[str]:
    """The breaches of the broken/solved contract in the runs, for every seed."""
    found: list[str] = []
    for variant, why in runs.failures.items():
        found.append(f"The {variant} run {why}")
    if runs.failures:
        return found
    bypass = any(
        problem.startswith(f"{meta.dir / TEST_FILE} line ")
        for problem in (fixture_bypasses(meta) if (meta.dir / TEST_FILE).is_file() else [])
    )
    add = _once(found)
    for seed in range(seeds):
        rerun = f"pytest {meta.dir} --kata-seed {seed}"
        broken = runs.entry("broken", seed, meta.id)
        if broken is None:
            add(f"{meta.dir}: its tests did not run with seed {seed} ({rerun}).")
        else:
            _check_broken(meta, seed, broken, runs.probes[("broken", seed)], rerun, add)
        solved = runs.entry("solved", seed, meta.id)
        if bypass and (solved is None or solved["status"] != "solved"):
            add(
                f"{meta.dir / TEST_FILE}: the solution cannot be judged while the tests bypass "
                "the kata fixture (see above)."
            )
        else:
            _check_solved(meta, seed, solved, runs.probes[("solved", seed)], rerun, add)
        for variant, entry in (("broken", broken), ("solved", solved)):
            if entry is not None and float(entry["seconds"]) > budget:
                add(
                    f"{meta.dir}: the {variant} run takes {float(entry['seconds']):.1f} s with "
                    f"seed {seed}, over its time budget of {budget:g} s: make the training "
                    "smaller (fewer epochs, less data), or give the kata a larger budget."
                )
    return found


def _once(found: list[str]) -> Callable[[str], None]:
    def add(problem: str) -> None:
        if problem not in found:
            found.append(problem)

    return add


def _check_broken(
    meta: KataMeta,
    seed: int,
    entry: dict[str, Any],
    probe: dict[str, Any],
    rerun: str,
    add: Callable[[str], None],
) -> None:
    if entry.get("problem"):
        add(f"{meta.dir}: could not run with seed {seed}: {entry['problem']}")
        return
    if entry["status"] == "solved":
        add(
            f"{meta.dir}: passes its own asserts as shipped with seed {seed}; only the "
            f"diagnosis would fail it. The tests must catch the fault's symptom themselves "
            f"({rerun} --kata-no-gate)."
        )
        return
    typos = [(test, r) for test, r in probe.get(meta.id, {}).items() if _is_typo(r)]
    if typos:
        test, record = typos[0]
        add(
            f"{meta.dir}: as shipped it fails with {record['type']}: {record['message']} "
            f"({test}, seed {seed}): that is a typo, not a training bug. A kata's fault runs "
            "and trains, wrongly; make the broken file run."
        )
    if sorted(entry["codes"]) != sorted(meta.codes):
        add(
            f"{meta.meta_path}: field 'codes': declares {sorted(meta.codes)}, but the broken "
            f"run with seed {seed} reports {sorted(entry['codes'])} ({rerun})."
        )


def _is_typo(record: dict[str, Any]) -> bool:
    """A misspelt name in the kata's own file: a crash before any training goes wrong."""
    if record["type"] in TYPO_ERRORS:
        return bool(record["raised_in_kata_file"])
    misspelt_api = record["type"] == "AttributeError" and record["message"].startswith("module ")
    return misspelt_api and bool(record["through_kata_file"])  # torch.nn.MSELos


def _check_solved(
    meta: KataMeta,
    seed: int,
    entry: dict[str, Any] | None,
    probe: dict[str, Any],
    rerun: str,
    add: Callable[[str], None],
) -> None:
    rerun += " --kata-solution"
    if entry is None:
        add(f"{meta.solution_dir}: its tests did not run with seed {seed} ({rerun}).")
        return
    findings = [f for f in entry["findings"] if f["severity"] in ("error", "warning")]
    if entry["status"] == "solved" and not findings:
        return
    failing = [t for t, outcome in entry["tests"].items() if outcome != "passed"]
    why = f" (failing: {', '.join(failing)})" if failing else ""
    for test in failing:
        record = probe.get(meta.id, {}).get(test)
        if record:
            why += f"; {test} raised {record['type']}: {record['message']}"
            break
    codes = sorted({f["code"] for f in findings})
    seen = f"; findings: {', '.join(codes)}" if codes else ""
    add(f"{meta.solution_dir}: the solution does not pass with seed {seed}{why}{seen} ({rerun}).")
