"""Step-time overhead of watching a 2-process DDP run, measured side by side in one run.

    python benchmarks/ddp_overhead.py [--repeats 7] [--steps 4] [--batch 16] [--cpu-time]

Two ranks (CPU, gloo, a file:// rendezvous in a temporary folder, one thread each) train a
torchvision ResNet-18 on 64x64 images through DistributedDataParallel. Each repeat times a block
of plain steps and a block of watched steps (``diagnostics.watch()`` in every rank, as
``torchrun ... -m diagnostics`` runs it: every check, the DDP parameter checksums included),
alternating which goes first; rank 0 prints the ratio of the medians. Target: at most 1.05x.
On a loaded machine, ``--cpu-time`` times rank 0's CPU time instead of the wall clock: steadier,
as other processes' load then counts less.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import diagnostics


def rank_main(
    rank: int, world: int, init: str, repeats: int, steps: int, batch: int, cpu: bool
) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = DistributedDataParallel(resnet18(num_classes=10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch, 3, 64, 64), torch.randint(0, 10, (batch,))

    def block() -> float:
        clock = time.process_time if cpu else time.perf_counter
        dist.barrier()
        start = clock()
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        took = clock() - start
        dist.barrier()
        return took / steps

    block()  # warm-up
    plain, watched = [], []
    for r in range(repeats):
        order = ("plain", "watched") if r % 2 == 0 else ("watched", "plain")
        for kind in order:
            if kind == "plain":
                plain.append(block())
            else:
                with diagnostics.watch() as report:
                    watched.append(block())
                assert not report.failed, report  # a clean loop must stay silent
    if rank == 0:
        p, w = statistics.median(plain), statistics.median(watched)
        print(
            f"DDP ResNet-18 64x64, batch {batch}/rank, {world} ranks (gloo, CPU), "
            f"{'CPU time' if cpu else 'wall clock'}: "
            f"{p * 1e3:.0f} -> {w * 1e3:.0f} ms/step, {w / p:.3f}x "
            f"(median of {repeats} blocks of {steps} steps; spread plain "
            f"{min(plain) * 1e3:.0f}-{max(plain) * 1e3:.0f} ms)"
        )
    dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--cpu-time", action="store_true", help="time rank 0's CPU, not the wall")
    ns = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(
            rank_main,
            args=(2, f"file://{folder}/init", ns.repeats, ns.steps, ns.batch, ns.cpu_time),
            nprocs=2,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
