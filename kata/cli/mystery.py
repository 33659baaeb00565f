"""``kata mystery``: a clean loop with one hidden, verified fault, fixed blind.

``kata mystery [--day N]`` draws a reference solution of the course and a ``kata break``
operator whose finding the diagnostics really report on that script (verified by running it,
through the drill's answer key), and writes the broken script to ``mystery/train.py``; which
kata and which fault stay hidden. ``kata mystery check`` runs the course's own tests of the kata
the round was drawn from (its shipped copies) on the learner's version, in a run of its own with
the kata's time budget, under the diagnostics, without showing the diagnosis: it says "still
broken" until the script runs clean and passes those tests (a script that no longer trains runs
clean too), then reveals the fault. ``kata mystery reveal`` gives up and
shows it. Every round is recorded in ``.kata/mystery.json``.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import random
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console

from kata.atomic import locked, write_atomic
from kata.course import meta as _meta
from kata.course import shipped as _shipped
from kata.course.course import CommandError, Course
from kata.course.meta import KataMeta
from kata.running.verdict import TIMED_OUT, Verdict, judge

__all__ = ["MYSTERY_DIR", "run_mystery"]

MYSTERY_DIR = "mystery"
STATE_FILE = "mystery.json"
MAX_TRIES = 12  # candidate faults run before giving up on finding a verified one


def run_mystery(args: argparse.Namespace, out: Console, err: Console) -> int:
    course = Course.locate(args.root)
    action = args.action or "new"
    if action not in ("new", "check", "reveal"):
        close = difflib.get_close_matches(action, ["check", "reveal"], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CommandError(f"Unknown mystery action {action!r}.{hint} Use check or reveal.")
    if action == "new":
        return _new(course, args, out)
    current = _read(course).get("current")
    if not current:
        raise CommandError("No mystery in progress: 'kata mystery' draws one.")
    if action == "check":
        return _check(course, current, out)
    return _finish(course, current, out, outcome="revealed")


# -- a new round ----------------------------------------------------------------------------------
def _new(course: Course, args: argparse.Namespace, out: Console) -> int:
    from kata.drill.answer_key import VERDICTS_FILE, AnswerKey
    from kata.drill.rounds import fault_rounds

    state = _read(course)
    if state.get("current") and not args.new:
        raise CommandError(
            "A mystery is in progress in mystery/train.py: 'kata mystery check' when you think "
            "it is fixed, 'kata mystery reveal' to give up, or 'kata mystery --new' to draw "
            "another (your file is backed up)."
        )
    metas = [m for m in course.katas() if m.kind == "fix" and not m.accelerator]
    if args.day is not None:
        day = course.day(args.day)
        metas = [m for m in metas if m.day == day]
    taught = {code for m in metas for code in m.codes}
    candidates = [r for r in fault_rounds(metas, taught=taught) if ", with '" in r.source]
    if not candidates:
        raise CommandError("No mystery can be drawn here: no kata solution takes a fault.")
    rng = random.Random(args.seed)
    rng.shuffle(candidates)
    key = AnswerKey.load(course.state_dir / VERDICTS_FILE)
    out.print("Drawing a mystery and checking that its fault really shows...", markup=False)
    chosen = next((r for r in candidates[:MAX_TRIES] if key.confirms(r)), None)
    key.save()
    if chosen is None or chosen.meta is None:
        raise CommandError("No drawn fault could be verified; try again with another --seed.")
    target = course.root / MYSTERY_DIR / "train.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file():
        _backup(course, target)
    write_atomic(target, chosen.broken)
    current = {
        "kata": chosen.meta.id,
        "source": chosen.source,
        "code": chosen.code,
        "file": chosen.file,
        "fixed": chosen.fixed,
        "broken": chosen.broken,
        "started": _now(),
        "checks": 0,
    }
    _update(course, lambda s: s.update(current=current))
    out.print(
        f"A training script with one hidden fault is in {course.relative(target)}.\n"
        "It runs; something in it is wrong. Find it, fix it, then: kata mystery check\n"
        "(no diagnosis is shown until it is fixed; 'kata mystery reveal' gives up).",
        markup=False,
    )
    return 0


# -- check and reveal ------------------------------------------------------------------------------
def _check(course: Course, current: dict[str, Any], out: Console) -> int:
    from diagnostics import CATALOGUE

    target = course.root / MYSTERY_DIR / "train.py"
    if not target.is_file():
        raise CommandError(f"{course.relative(target)} is gone: 'kata mystery --new' draws again.")
    meta = course.find(current["kata"])
    source = target.read_text(encoding="utf-8")
    out.print(
        "Running the tests of the kata your mystery/train.py comes from, under the diagnostics "
        "(blind)...",
        markup=False,
    )
    verdict, codes, failed = _run_blind(meta, current.get("file", "train.py"), source)
    # Info findings do not make a loop wrong, unless the hidden fault is one of them.
    faults = sum(
        code == current["code"] or code not in CATALOGUE or CATALOGUE[code].severity.fails
        for code in codes
    )
    _update(course, lambda s: s["current"].update(checks=int(s["current"]["checks"]) + 1))
    if faults:
        out.print(
            f"Still broken: the diagnostics see {faults} fault{'s' if faults > 1 else ''} "
            "(not shown: this is a mystery). Keep looking, or 'kata mystery reveal'.",
            markup=False,
        )
        return 1
    if not verdict.solved:
        if verdict.status == TIMED_OUT:
            why = f"they ran past the kata's time budget of {meta.timeout:g} s"
        else:
            why = verdict.reason or f"failing: {', '.join(failed[:3]) or 'the run ended early'}"
        out.print(
            f"Still broken: the diagnostics see nothing now, but the kata's own tests fail "
            f"({why}): the loop must still learn what it learned before the fault. Keep "
            "looking, or 'kata mystery reveal'.",
            markup=False,
        )
        return 1
    return _finish(course, _read(course)["current"], out, outcome="solved")


def _run_blind(meta: KataMeta, file: str, source: str) -> tuple[Verdict, list[str], list[str]]:
    """The course's own tests of ``meta`` (its shipped test file and kata.toml), run on its
    solution with ``file`` replaced by ``source``, in a run of its own with the kata's time
    budget, under the diagnostics: (the verdict, the codes found, the tests that did not
    pass). The learner's script never runs in this process: an exit or an
    endless loop in it ends that run, not the command."""
    from kata.running.runner import Runner, pytest_args

    shipped = _shipped.shipped_dir(meta)
    with tempfile.TemporaryDirectory(prefix="kata-mystery-") as tmp:
        root = Path(tmp)
        folder = root / "katas" / meta.day_name / meta.name
        folder.mkdir(parents=True)
        (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # not the learner's
        for name in _shipped.COURSE_FILES:  # the course's tests, whatever the learner's copy
            record = shipped / name
            shutil.copyfile(record if record.is_file() else meta.dir / name, folder / name)
        for name in meta.files:
            shutil.copyfile(meta.solution_dir / name, folder / name)
        (folder / file).write_text(source, encoding="utf-8")
        scratch = _meta.load(folder)
        args = pytest_args([folder], root=root, record_progress=False, timeout=meta.timeout)
        args += ["--kata-blind", "--kata-authoring", "--tb=no"]
        result = Runner(echo=lambda _text: None).run(
            args, report=True, timeout=meta.timeout, learner_dirs=[folder], cwd=root
        )
        verdict = judge(scratch, result)
    entry = result.katas.get(meta.id, {})
    failed = [t for t, outcome in entry.get("tests", {}).items() if outcome != "passed"]
    return verdict, list(entry.get("codes", [])), failed


def _finish(course: Course, current: dict[str, Any], out: Console, *, outcome: str) -> int:
    from diagnostics import CATALOGUE

    code = current["code"]
    meaning = CATALOGUE[code].summary if code in CATALOGUE else ""
    operator = current["source"].split(", with ", 1)[-1].strip("'")
    if outcome == "solved":
        out.print("✔ Solved: the script runs clean.", style="green", markup=False)
    out.print(
        f"The hidden fault: {operator} ({code}){': ' + meaning if meaning else ''}\n"
        f"It was drawn on the solution of {current['kata']}. The fault, as it was injected:",
        markup=False,
    )
    diff = difflib.unified_diff(
        current["fixed"].splitlines(keepends=True),
        current["broken"].splitlines(keepends=True),
        "correct/train.py",
        "mystery/train.py",
    )
    out.print("".join(diff).rstrip(), markup=False)

    def record(state: dict[str, Any]) -> None:
        entry = {k: current[k] for k in ("kata", "source", "code", "started", "checks")}
        entry.update(outcome=outcome, ended=_now())
        state.setdefault("rounds", []).append(entry)
        state["current"] = None

    state = _update(course, record)
    rounds = state.get("rounds", [])
    solved = sum(r.get("outcome") == "solved" for r in rounds)
    out.print(f"\nMysteries: {solved} solved of {len(rounds)}. 'kata mystery' draws another.")
    return 0 if outcome == "solved" else 1


# -- state ---------------------------------------------------------------------------------------
def _path(course: Course) -> Path:
    return course.state_dir / STATE_FILE


def _read(course: Course) -> dict[str, Any]:
    try:
        data = json.loads(_path(course).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": 1, "current": None, "rounds": []}
    return data if isinstance(data, dict) else {"version": 1, "current": None, "rounds": []}


def _update(course: Course, change: Any) -> dict[str, Any]:
    path = _path(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        state = _read(course)
        change(state)
        write_atomic(path, json.dumps(state, indent=2) + "\n")
    return state


def _backup(course: Course, path: Path) -> None:
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:8]
    folder = course.state_dir / "backups" / "mystery"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    write_atomic(folder / f"train-{stamp}-{digest}.py", path.read_bytes())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
