"""Step-time overhead of diagnostics.watch(), measured side by side in one run.

    python benchmarks/overhead.py [--repeats 7] [--steps 200] [--cpu-time] [--by-family]

Three workloads: a tiny MLP (the worst case: hooks cost the most relative to the work), an
RL-style loop (sixteen batch-1 forwards that choose actions, then one update on a batch) and a
torchvision ResNet-18 on 64x64 images on the CPU. Plain and watched runs alternate; each
watched run times a block of steps as its watch starts, then a block in the steady state of a
training run, and the ratios of medians to the plain runs are printed: the steady one (what a
step costs while a watch runs: the targets, at most 1.15x on the MLP and the RL loop, 1.03x on
ResNet-18), and the first block's (with what a watch does once, at its start).

``--by-family`` says where the overhead of the MLP and RL loops goes: the engine with every
family's handlers replaced by ones that do nothing (the cost of the hooks and the dispatch),
then each family's own work over that floor (that family real, the others doing nothing).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

import diagnostics
from diagnostics import Check
from diagnostics._checks import ALL_CHECKS
from diagnostics._checks._base import EVENTS


def mlp_step() -> Callable[[], None]:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(32, 32), torch.randn(32, 1)

    def step() -> None:
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()

    return step


def rl_step(acts: int = 16) -> Callable[[], None]:
    """A DQN-style step: ``acts`` batch-1 forwards that choose actions, then one update."""
    torch.manual_seed(0)
    q = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
    opt = torch.optim.Adam(q.parameters(), lr=1e-3)
    obs = torch.randn(acts, 1, 8)
    x, y = torch.randn(32, 8), torch.randn(32, 4)

    def step() -> None:
        with torch.no_grad():
            for o in obs:
                q(o).argmax(dim=1)
        opt.zero_grad()
        F.smooth_l1_loss(q(x), y).backward()
        opt.step()

    return step


def resnet_step(batch: int = 16) -> Callable[[], None]:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(num_classes=10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch, 3, 64, 64), torch.randint(0, 10, (batch,))

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


CLOCK: Callable[[], float] = time.perf_counter


def _timed(step: Callable[[], None], steps: int) -> float:
    start = CLOCK()
    for _ in range(steps):
        step()
    return (CLOCK() - start) / steps


def _block(
    step: Callable[[], None], steps: int, watched: bool, checks: list[type[Check]] | None = None
) -> tuple[float, float]:
    """The time per step of ``steps`` steps, then of ``steps`` more: the first block of a watch
    includes what a watch does once (its checks' first looks at the model and the graph), the
    second is the steady state of a training run."""
    if not watched:
        return _timed(step, steps), _timed(step, steps)
    with diagnostics.watch(checks=checks) as report:
        first = _timed(step, steps)
        steady = _timed(step, steps)
    assert not report.failed, f"the benchmark loop itself is faulty: {report.codes()}"
    return first, steady


def measure(name: str, step: Callable[[], None], steps: int, repeats: int) -> float:
    for _ in range(max(3, steps // 10)):
        step()  # warm up allocator and kernels
    plain, first, steady = [], [], []
    for _ in range(repeats):
        plain.extend(_block(step, steps, watched=False))
        watched = _block(step, steps, watched=True)
        first.append(watched[0])
        steady.append(watched[1])
    p, f, w = statistics.median(plain), statistics.median(first), statistics.median(steady)
    print(
        f"{name:<11} plain {p * 1e3:9.3f} ms/step   watched {w * 1e3:9.3f} ms/step   "
        f"ratio {w / p:.3f}x   (a watch's first {steps} steps: {f / p:.3f}x)"
    )
    return w / p


def _idle(family: type[Check]) -> type[Check]:
    """``family`` with handlers that do nothing, listening to the same events."""
    handlers = {
        event: (lambda self, *args: None)
        for event in EVENTS
        if event != "finish" and getattr(family, event) is not getattr(Check, event)
    }
    # What the engine does for the family (its call log, which roots and events it wants)
    # is kept: only the handlers' own work is taken away.
    engine_side = {
        "logs_module_calls": family.logs_module_calls,
        "roots_without_grad": family.roots_without_grad,
        "quiet": family.quiet,
    }
    return type(
        f"Idle{family.__name__}",
        (Check,),
        {"family": f"idle-{family.family}", **engine_side, **handlers},
    )


def by_family(name: str, make: Callable[[], Callable[[], None]], steps: int, repeats: int) -> None:
    """Each block trains a model of its own from the same start, so that every configuration
    times the same steps (a model trained for thousands of steps on one batch is another loop)."""
    idle = {family: _idle(family) for family in ALL_CHECKS}
    configs: dict[str, list[type[Check]] | None] = {
        "hooks and dispatch": list(idle.values()),
        **{
            family.family: [f if f is family else idle[f] for f in ALL_CHECKS]
            for family in ALL_CHECKS
        },
    }

    def block(checks: list[type[Check]] | None, watched: bool) -> float:
        step = make()
        for _ in range(3):
            step()  # warm up allocator and kernels
        return _block(step, steps, watched=watched, checks=checks)[1]

    plain: list[float] = []
    times: dict[str, list[float]] = {key: [] for key in configs}
    for _ in range(repeats):
        plain.append(block(None, watched=False))
        for key, checks in configs.items():
            times[key].append(block(checks, watched=True))
    p = statistics.median(plain)
    floor = statistics.median(times["hooks and dispatch"])
    print(f"{name}: plain {p * 1e6:.1f} us/step")
    print(f"  {'hooks and dispatch':<20} {(floor - p) * 1e6:+7.1f} us/step over plain")
    for key in configs:
        if key != "hooks and dispatch":
            extra = statistics.median(times[key]) - floor
            print(f"  {key:<20} {extra * 1e6:+7.1f} us/step over the floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=200, help="MLP steps per block")
    parser.add_argument("--resnet-steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time the calling thread's CPU time rather than the wall clock (steadier on a "
        "loaded machine; with --threads 1 on the CPU the whole step runs in that thread)",
    )
    parser.add_argument(
        "--by-family",
        action="store_true",
        help="break the MLP and RL overhead down: the hooks, then each family of checks",
    )
    args = parser.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.thread_time
    torch.set_num_threads(args.threads)
    clock = "thread CPU time" if args.cpu_time else "wall clock"
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.repeats} repeats, {clock}")
    if args.by_family:
        by_family("MLP", mlp_step, args.steps, args.repeats)
        by_family("RL batch-1", rl_step, max(1, args.steps // 4), args.repeats)
        return
    measure("MLP", mlp_step(), args.steps, args.repeats)
    measure("RL batch-1", rl_step(), max(1, args.steps // 4), args.repeats)
    measure("ResNet-18", resnet_step(), args.resnet_steps, args.repeats)


if __name__ == "__main__":
    main()
