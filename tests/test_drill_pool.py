"""The whole drill pool of the course, every day, run under the diagnostics (the answer key).

Every round a drill can draw must report exactly its expected codes when its code runs, and
every correct loop must run silent. This runs each of the course's code rounds once per test
session (about 45 s of CPU): under xdist the workers share their verdicts through a file, and a
worker claims a round before it runs it, so that no round is run by two workers (a day's pool
and the pool of every day overlap).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from kata.atomic import locked
from kata.course.meta import discover
from kata.drill.answer_key import AnswerKey, Verdict, round_digest
from kata.drill.answers import NOTHING
from kata.drill.rounds import Pool, Round, build_pool, diagnose, draw

PROJECT = Path(__file__).resolve().parent.parent
METAS = discover(PROJECT)
DAYS = sorted({m.day for m in METAS})


class _SharedKey(AnswerKey):
    """An answer key that the test session's xdist workers share through one file: a round
    another worker has verified is read, not run again. Before running a round a worker claims
    it (a file in ``claims/``); a round another worker has claimed is left to that worker, and
    its verdict read once it is there (``verify``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.claims = path.parent / "claims"
        self.claims.mkdir(exist_ok=True)

    def verify(self, rounds: list[Round], *, timeout: float = 600.0) -> None:
        """Have a verdict for every round: run the unclaimed ones, then wait for the others."""
        self._merge(save=False)
        theirs = []
        for round_ in rounds:
            digest = round_digest(round_)
            if digest in self.verdicts:
                continue
            if self._claim(digest):
                super().verdict(round_)
                self._merge(save=True)
            else:
                theirs.append(round_)
        deadline = time.monotonic() + timeout
        while theirs:
            time.sleep(0.1)
            self._merge(save=False)
            theirs = [r for r in theirs if round_digest(r) not in self.verdicts]
            if time.monotonic() > deadline:  # the claiming worker is gone: run them here
                for round_ in theirs:
                    self.verdict(round_)
                return

    def verdict(self, round_: Round) -> Verdict:
        digest = round_digest(round_)
        if digest not in self.verdicts:
            self._merge(save=False)
        if digest not in self.verdicts:
            super().verdict(round_)
            self._merge(save=True)
        return self.verdicts[digest]

    def _claim(self, digest: str) -> bool:
        try:
            os.close(os.open(self.claims / digest, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def _merge(self, *, save: bool) -> None:
        assert self.path is not None
        with locked(self.path):
            theirs = AnswerKey.load(self.path).verdicts
            mine = {d: v for d, v in self.verdicts.items() if d not in theirs}
            self.verdicts.update(theirs)
            if save and mine:
                self._dirty = True
                self.save()


@pytest.fixture(scope="session")
def key(tmp_path_factory: pytest.TempPathFactory) -> AnswerKey:
    """The verdicts of every round of the course, each run once per test session."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return AnswerKey(None)  # in memory: the verdicts of this run only
    folder = tmp_path_factory.getbasetemp().parent / "drill-pool"  # the session's, own lock
    folder.mkdir(exist_ok=True)
    return _SharedKey(folder / "key.json")


@pytest.fixture(scope="module", params=[*DAYS, 0], ids=[*(f"day{d}" for d in DAYS), "all-days"])
def day_pool(request, key) -> tuple[int, Pool, list, list]:
    """A day's pool (``--day``), or the pool of every day together (0: no ``--day``)."""
    pool = build_pool(METAS, days=[request.param] if request.param else DAYS)
    if isinstance(key, _SharedKey):
        key.verify(pool.code_rounds())
    kept = [r for r in pool.code_rounds() if key.confirms(r)]
    dropped = [r for r in pool.code_rounds() if r not in kept]
    return request.param, pool, kept, dropped


def test_every_round_a_drill_can_draw_reports_exactly_its_expected_codes(day_pool, key):
    day, pool, kept, _ = day_pool
    everything = draw(pool, 10**6, random.Random(0), verified=key.confirms)
    drawn = [r for r in everything if r.kind == "fault"]
    assert sorted(r.source for r in drawn) == sorted(r.source for r in kept)
    for round_ in drawn:
        verdict = key.verdict(round_)
        assert verdict.ran, round_.source
        if round_.code == NOTHING:
            assert verdict.codes == () and not verdict.crashed, round_.source
        else:
            assert set(verdict.codes) == set(round_.codes), round_.source
    faults = Counter(r.code for r in drawn if r.code != NOTHING)
    fault_count = sum(faults.values())
    print(
        f"\nday {day or 'all'}: {fault_count} fault rounds verified ({len(faults)} codes), "
        f"{len(drawn) - fault_count} correct loops, {len(pool.questions)} questions"
    )


def test_every_correct_loop_of_the_day_runs_silent(day_pool):
    _, pool, kept, _ = day_pool
    assert pool.correct and all(r in kept for r in pool.correct)


def test_faults_that_change_nothing_on_their_model_are_dropped(day_pool):
    day, _, kept, dropped = day_pool
    sources = {r.source for r in kept}
    for round_ in dropped:  # only operators applied where they change nothing the run shows
        assert round_.code != NOTHING and "solution, with '" in round_.source
    # The examples: no dropout or BatchNorm in these models, a learning rate that
    # does not diverge on this loop.
    if day in (0, 11):
        assert "day11/01_gradients_pile_up solution, with 'drop-eval'" not in sources
        assert "day11/01_gradients_pile_up solution, with 'drop-train'" not in sources
    if day in (0, 12):
        assert "day12/06_early_stopping_on_training_loss solution, with 'huge-lr'" not in sources
        assert "day12/01_dropout_in_validation solution, with 'drop-eval-no-grad'" in sources
    # Every kata's own broken file is a round: the katas are verified by `kata validate`.
    shipped = {m.id for m in METAS if m.day == (day or m.day) and m.codes}
    assert shipped <= sources


def test_a_verdict_is_the_diagnosis_of_the_exact_code_shown(day_pool, key):
    _, _, kept, _ = day_pool
    sample = random.Random(1).sample(kept, k=min(3, len(kept)))
    for round_ in sample:  # run again from scratch: the same codes
        assert diagnose(round_).codes == key.verdict(round_).codes
