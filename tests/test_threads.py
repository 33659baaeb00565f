"""Watches in several threads: each sees the events of its own thread and reports only its own
faults; a thread that watches nothing is seen by the one watch of the process."""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

import diagnostics

STEPS = 20


def training(*, zero_grad: bool, evaluate: bool = True) -> Callable[[], None]:
    """A small training loop; without zero_grad it is faulty (grad-accumulation)."""
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    data = [torch.randn(16, 4, generator=g) for _ in range(4)]

    def run() -> None:
        for i in range(STEPS):
            x = data[i % len(data)]
            if zero_grad:
                opt.zero_grad()
            F.mse_loss(model(x), x.sum(1, keepdim=True)).backward()
            opt.step()
            if evaluate and i % 5 == 4:
                model.eval()
                with torch.no_grad():
                    model(x)
                model.train()

    return run


def watched_in_threads(loops: dict[str, Callable[[], None]]) -> dict[str, diagnostics.Report]:
    """Run each loop under its own watch in its own thread, all at once."""
    reports: dict[str, diagnostics.Report] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(loops))

    def worker(name: str, loop: Callable[[], None]) -> None:
        try:
            with diagnostics.watch() as report:
                start.wait()
                loop()
            reports[name] = report
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=item) for item in loops.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return reports


def test_two_watches_in_two_threads_each_report_only_their_own_faults():
    reports = watched_in_threads(
        {"faulty": training(zero_grad=False), "clean": training(zero_grad=True)}
    )
    assert reports["faulty"].codes() == {"grad-accumulation"}
    assert reports["clean"].findings == []
    assert all(r.internal_warnings == [] for r in reports.values())


def test_three_clean_threads_give_no_finding():
    reports = watched_in_threads({str(i): training(zero_grad=True) for i in range(3)})
    assert [r.findings for r in reports.values()] == [[], [], []]
    assert all(r.internal_warnings == [] for r in reports.values())


def test_a_thread_that_watches_nothing_does_not_leak_into_another_threads_watches():
    faulty = training(zero_grad=False, evaluate=False)
    go = threading.Event()
    outsider = threading.Thread(target=lambda: (go.wait(), faulty()))
    outsider.start()
    reports = watched_in_threads(
        {"a": training(zero_grad=True), "b": training(zero_grad=True, evaluate=False)}
    )
    go.set()
    outsider.join()
    assert [r.findings for r in reports.values()] == [[], []]


def test_a_watch_sees_the_training_its_script_runs_in_a_worker_thread():
    # One watch in the process (the command line's): a thread that watches nothing is its own.
    with diagnostics.watch() as report:
        worker = threading.Thread(target=training(zero_grad=False, evaluate=False))
        worker.start()
        worker.join()
    assert report.codes() == {"grad-accumulation"}


def test_a_watch_in_a_thread_sees_its_backward():
    seen: list[int] = []

    def hook(grad: torch.Tensor) -> None:
        seen.append(threading.get_ident())

    def loop() -> None:
        model = nn.Linear(2, 1)
        model.weight.register_hook(hook)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):  # no zero_grad: only a watch that sees this backward can tell
            F.mse_loss(model(torch.ones(4, 2)), torch.zeros(4, 1)).backward()
            opt.step()

    reports = watched_in_threads({"trains": loop, "idle": lambda: None})
    assert reports["trains"].codes() == {"grad-accumulation"}
    assert reports["idle"].findings == []
    assert len(seen) == 3


def test_a_thread_whose_watch_ended_is_not_attributed_to_another_threads_watch():
    first_done, second_started, faulty_done = (
        threading.Event(),
        threading.Event(),
        threading.Event(),
    )
    reports: dict[str, diagnostics.Report] = {}

    def first() -> None:
        with diagnostics.watch() as report:
            training(zero_grad=True, evaluate=False)()
        reports["first"] = report
        first_done.set()
        second_started.wait()
        training(zero_grad=False, evaluate=False)()  # faulty, but watched by nobody
        faulty_done.set()

    def second() -> None:
        first_done.wait()
        with diagnostics.watch() as report:
            second_started.set()
            training(zero_grad=True, evaluate=False)()
            faulty_done.wait()
        reports["second"] = report

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reports["first"].findings == []
    assert reports["second"].findings == []
