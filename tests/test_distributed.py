"""Diagnostics across processes: spawned workers and torchrun ranks, one merged report.

The command-line tests start real processes (CPU, gloo, 2 processes, tiny models, few steps),
each bounded by a timeout; the rest test the merge and the checks in this process.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import diagnostics
from diagnostics import Finding, Location
from diagnostics._processes import Part, merge
from diagnostics._render import report_text

ROOT = Path(__file__).parents[1]
TIMEOUT = 240


def run_cli(tmp_path: Path, body: str, *args: str, torchrun: bool = False, env=None):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    out = tmp_path / "findings.json"
    if torchrun:
        with socket.socket() as s:  # a free port on the loopback address
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(port),
            "-m",
            "diagnostics",
        ]
    else:
        cmd = [sys.executable, "-m", "diagnostics"]
    for _attempt in range(2):
        proc = subprocess.run(
            [*cmd, "--json", str(out), str(script), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=tmp_path,
            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **(env or {})},
        )
        # gloo sometimes aborts a rank while its threads wind down at exit ("terminate called
        # without an active exception", exit -6), with or without a watch, under torchrun and
        # mp.spawn alike (about one launch in thirty): run such a launch once more rather than
        # judge the diagnostics by torch's teardown.
        if _GLOO_TEARDOWN_ABORT not in proc.stderr:
            break
    data = json.loads(out.read_text()) if out.exists() else None
    return proc, data


_GLOO_TEARDOWN_ABORT = "terminate called without an active exception"


# -- the merge ----------------------------------------------------------------------------


def finding(code: str = "grad-accumulation", line: int = 11, count: int = 2, msg: str = "m"):
    return Finding(code, msg, "fix", Location("train.py", line), count=count)


def test_the_same_fault_on_two_ranks_is_reported_once_with_its_ranks_and_counts():
    report = merge(
        [
            Part("rank 1", 1, [finding(count=3, msg="norm 2.0")]),
            Part("rank 0", 0, [finding(count=5, msg="norm 1.0"), finding(line=20)]),
        ]
    )
    assert report.processes == ("rank 0", "rank 1")
    first, second = report.findings
    assert first.count == 8 and first.rank == 0 and first.message == "norm 1.0"
    assert first.ranks == (("rank 0", 5), ("rank 1", 3))
    assert second.ranks == (("rank 0", 2),)
    data = json.loads(report.to_json())
    assert data["processes"] == ["rank 0", "rank 1"]
    assert data["findings"][0]["rank"] == 0
    assert data["findings"][0]["ranks"] == ["rank 0", "rank 1"]
    assert data["findings"][0]["rank_counts"] == {"rank 0": 5, "rank 1": 3}
    text = report_text(report)
    assert re.search(r"seen on +rank 0 ×5, rank 1 ×3", text), text
    assert "across 2 processes (rank 0, rank 1)" in text


def test_a_finding_survives_its_json_round_trip():
    f = finding()
    assert Finding.from_dict(f.to_dict()) == f


def test_one_process_alone_is_reported_without_ranks():
    report = merge([Part("main", None, [finding()])])
    assert report.processes == () and report.findings[0].ranks == ()
    assert "across" not in report_text(report)


def sums(*values: float) -> dict:
    steps = {str(2**i): v for i, v in enumerate(values)}
    return {"param_checksums": {"where": ["train.py", 30], "0": steps}}


def test_checksums_that_differ_across_ranks_are_ranks_out_of_sync():
    report = merge(
        [
            Part("rank 0", 0, [], process_data=sums(1.0, 2.0, 3.0)),
            Part("rank 1", 1, [], process_data=sums(1.0, 2.5, 3.5)),
        ]
    )
    [f] = report.findings
    assert f.code == "ranks-out-of-sync" and str(f.location) == "train.py:30"
    assert dict(f.evidence)["first step that differs"] == "2"


def test_equal_checksums_are_in_sync():
    parts = [Part(f"rank {r}", r, [], process_data=sums(1.0, 2.0, 3.0)) for r in (0, 1)]
    assert merge(parts).findings == []


def test_allowing_ranks_out_of_sync_silences_it():
    parts = [
        Part("rank 0", 0, [], process_data=sums(1.0)),
        Part("rank 1", 1, [], process_data=sums(2.0)),
    ]
    assert merge(parts, allow=frozenset({"ranks-out-of-sync"})).findings == []


# -- the checks in one process ---------------------------------------------------------------


def epochs(sampler: DistributedSampler, n: int, *, set_epoch=lambda e: e, twice: bool = False):
    loader = DataLoader(sampler.dataset, batch_size=4, sampler=sampler)
    for epoch in range(n):
        e = set_epoch(epoch)
        if e is not None:
            sampler.set_epoch(e)
        for _ in loader:
            pass
        if twice:
            for _ in loader:
                pass


def dataset() -> TensorDataset:
    return TensorDataset(torch.arange(16.0))


def test_a_shuffling_sampler_without_set_epoch_is_reported():
    sampler = DistributedSampler(dataset(), num_replicas=2, rank=1, shuffle=True)
    with diagnostics.watch() as report:
        epochs(sampler, 3, set_epoch=lambda e: None)
    [f] = report.by_code("sampler-epoch-not-set")
    assert dict(f.evidence)["iterations"] == "3"
    assert Path(f.location.file).name == "test_distributed.py"


def test_set_epoch_with_a_constant_is_still_reported():
    sampler = DistributedSampler(dataset(), num_replicas=2, rank=0, shuffle=True)
    with diagnostics.watch() as report:
        epochs(sampler, 2, set_epoch=lambda e: 0)
    assert report.codes() == {"sampler-epoch-not-set"}


@pytest.mark.parametrize(
    "shuffle, set_epoch, twice",
    [(True, lambda e: e, False), (True, lambda e: e, True), (False, lambda e: None, False)],
    ids=["set-epoch", "train-then-eval-each-epoch", "no-shuffle"],
)
def test_correct_samplers_are_silent(shuffle, set_epoch, twice):
    sampler = DistributedSampler(dataset(), num_replicas=2, rank=0, shuffle=shuffle)
    with diagnostics.watch() as report:
        epochs(sampler, 3, set_epoch=set_epoch, twice=twice)
    assert not report.findings


def test_a_single_epoch_is_silent():
    sampler = DistributedSampler(dataset(), num_replicas=2, rank=0, shuffle=True)
    with diagnostics.watch() as report:
        epochs(sampler, 1, set_epoch=lambda e: None)
    assert not report.findings


class Wrapped(nn.Module):
    """Keys as DistributedDataParallel has them: 'module.*'."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module


def test_a_ddp_checkpoint_loaded_into_a_plain_model_is_explained():
    state = Wrapped(nn.Linear(2, 2)).state_dict()
    with diagnostics.watch() as report, pytest.raises(RuntimeError):
        nn.Linear(2, 2).load_state_dict(state)
    [f] = report.findings
    assert f.code == "state-dict-module-prefix"
    assert "removeprefix('module.')" in f.fix
    assert dict(f.evidence)["a key in the checkpoint"].startswith("module.")


def test_a_plain_checkpoint_loaded_into_the_wrapper_is_explained_even_with_strict_false():
    state = nn.Linear(2, 2).state_dict()
    with diagnostics.watch() as report:
        Wrapped(nn.Linear(2, 2)).load_state_dict(state, strict=False)
    [f] = report.findings
    assert f.code == "state-dict-module-prefix" and ".module.load_state_dict" in f.fix


def test_matching_and_stripped_checkpoints_load_silently():
    state = Wrapped(nn.Linear(2, 2)).state_dict()
    with diagnostics.watch() as report:
        Wrapped(nn.Linear(2, 2)).load_state_dict(state)
        nn.Linear(2, 2).load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
        nn.Linear(2, 2).load_state_dict({"weight": torch.zeros(2, 2)}, strict=False)
    assert not report.findings


# -- processes started by the script ---------------------------------------------------------

HOGWILD = """
import torch, torch.nn as nn, torch.nn.functional as F
import torch.multiprocessing as mp

def train(rank, model):
    torch.manual_seed(rank)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(4):
        x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
        {zero_grad}
        F.cross_entropy(model(x), y).backward()
        opt.step()
    {end}

if __name__ == "__main__":
    model = nn.Linear(4, 3)
    model.share_memory()
    ctx = mp.get_context("{method}")
    workers = [ctx.Process(target=train, args=(rank, model)) for rank in range(2)]
    for p in workers:
        p.start()
    for p in workers:
        p.join()
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_a_fault_in_spawned_workers_is_reported_once_with_the_workers(tmp_path, method):
    body = HOGWILD.format(zero_grad="pass", end="", method=method)
    proc, data = run_cli(tmp_path, body)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("error grad-accumulation") == 1, proc.stderr
    assert re.search(r"seen on +worker 0, worker 1", proc.stderr), proc.stderr
    assert "across 3 processes (main, worker 0, worker 1)" in proc.stderr
    [f] = data["findings"]
    assert f["code"] == "grad-accumulation" and f["ranks"] == ["worker 0", "worker 1"]
    assert data["processes"] == ["main", "worker 0", "worker 1"] and data["exit_status"] == 1


def test_correct_spawned_workers_are_silent(tmp_path):
    body = HOGWILD.format(zero_grad="opt.zero_grad()", end="", method="spawn")
    proc, data = run_cli(tmp_path, body)
    assert proc.returncode == 0, proc.stderr
    assert "no faults found across 3 processes" in proc.stderr
    assert data["findings"] == []


def test_a_worker_that_dies_still_leaves_its_findings(tmp_path):
    body = HOGWILD.format(zero_grad="pass", end="import os; os._exit(3)", method="spawn")
    proc, data = run_cli(tmp_path, body)
    assert [f["code"] for f in data["findings"]] == ["grad-accumulation"], proc.stderr
    assert f"{data['findings'][0]['ranks']}" == "['worker 0', 'worker 1']"
    assert any("ended before its watch did" in w for w in data["internal_warnings"])
    assert proc.returncode == 1


def test_a_process_class_overriding_run_is_said_to_be_unwatched(tmp_path):
    body = """
    import multiprocessing as mp

    class Job(mp.get_context("spawn").Process):
        def run(self):
            pass

    if __name__ == "__main__":
        job = Job()
        job.start()
        job.join()
    """
    proc, data = run_cli(tmp_path, body)
    assert proc.returncode == 0, proc.stderr
    assert any("overrides run()" in w for w in data["internal_warnings"]), data


# -- DDP: mp.spawn and torchrun ------------------------------------------------------------

DDP_BODY = """
import os, sys, tempfile
from contextlib import nullcontext
import torch, torch.nn as nn, torch.nn.functional as F
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

def train(rank=None, world=None, init=None):
    if init:
        dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    else:
        dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(32, 4), torch.randint(0, 3, (32,)))
    sampler = DistributedSampler(data, shuffle=True)
    loader = DataLoader(data, batch_size=8, sampler=sampler)
    model = DDP(nn.Linear(4, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(2):
        if "--no-set-epoch" not in sys.argv:
            sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            if "--no-sync-always" in sys.argv or "--no-sync-then-sync" in sys.argv:
                # two micro-batches; no_sync() skips the all-reduce of the backward inside it
                with model.no_sync():
                    F.cross_entropy(model(x[:4]), y[:4]).backward()
                last = model.no_sync() if "--no-sync-always" in sys.argv else nullcontext()
                with last:
                    F.cross_entropy(model(x[4:]), y[4:]).backward()
                opt.step()
                continue
            out = model.module(x) if "--bypass" in sys.argv else model(x)
            F.cross_entropy(out, y).backward()
            if "--skip-a-step-on-rank-1" in sys.argv and rank == 1 and epoch == 0:
                continue  # e.g. a NaN guard that fired on this rank's batch alone
            opt.step()
    loss = torch.tensor([1.0])
    dist.all_reduce(loss)
    if rank == 0:
        path = os.path.join(tempfile.gettempdir(), f"ckpt-{os.getpid()}.pt")
        torch.save(model.module.state_dict(), path)
        os.remove(path)
    dist.destroy_process_group()

if __name__ == "__main__":
    if "RANK" in os.environ:
        train()
    else:
        import torch.multiprocessing as mp
        mp.spawn(train, args=(2, f"file://{tempfile.mkdtemp()}/init"), nprocs=2)
"""


@pytest.mark.parametrize(
    "flags", [(), ("--no-sync-then-sync",)], ids=["plain", "no-sync-then-sync"]
)
def test_a_clean_ddp_loop_in_spawned_ranks_is_silent_and_labelled_by_rank(tmp_path, flags):
    proc, data = run_cli(tmp_path, DDP_BODY, *flags)
    assert proc.returncode == 0, proc.stderr
    assert data["findings"] == [] and data["processes"] == ["main", "rank 0", "rank 1"]


@pytest.mark.parametrize(
    "flag, code",
    [
        ("--bypass", "ranks-out-of-sync"),
        ("--skip-a-step-on-rank-1", "ranks-out-of-sync"),
        ("--no-sync-always", "ranks-out-of-sync"),
        ("--no-set-epoch", "sampler-epoch-not-set"),
    ],
)
def test_ddp_faults_in_spawned_ranks_are_found(tmp_path, flag, code):
    proc, data = run_cli(tmp_path, DDP_BODY, flag)
    assert proc.returncode == 1, proc.stderr
    assert [f["code"] for f in data["findings"]] == [code], proc.stderr
    assert data["findings"][0]["ranks"] == ["rank 0", "rank 1"]


def test_under_torchrun_rank_0_prints_one_merged_report(tmp_path):
    proc, data = run_cli(tmp_path, DDP_BODY, "--bypass", torchrun=True)
    assert proc.stderr.count("error ranks-out-of-sync") == 1, proc.stderr
    assert proc.stderr.count("diagnostics: ") == 1, proc.stderr
    assert "across 2 processes (rank 0, rank 1)" in proc.stderr
    assert proc.returncode != 0
    assert data["exit_status"] == 1 and data["processes"] == ["rank 0", "rank 1"]
    [f] = data["findings"]
    assert f["code"] == "ranks-out-of-sync"


def test_under_torchrun_a_clean_loop_is_silent(tmp_path):
    proc, data = run_cli(tmp_path, DDP_BODY, torchrun=True)
    assert proc.returncode == 0, proc.stderr
    assert "no faults found across 2 processes (rank 0, rank 1)" in proc.stderr
    assert data["findings"] == []


def test_under_torchrun_a_rank_that_crashes_still_has_its_fault_explained(tmp_path):
    body = """
    import torch, torch.nn as nn, torch.distributed as dist
    dist.init_process_group("gloo")
    model = nn.Linear(4, 3)
    if dist.get_rank() == 1:
        model(torch.randn(2, 5))
    dist.barrier()
    """
    proc, _ = run_cli(tmp_path, body, torchrun=True)
    assert proc.returncode != 0
    assert "error shape-mismatch" in proc.stderr, proc.stderr
    assert "on rank 1." in proc.stderr or "rank 1 crashed" in proc.stderr, proc.stderr


def test_under_torchrun_a_shared_folder_gets_a_subfolder_per_launch_removed_once_merged(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    env = {"DIAGNOSTICS_PROCESS_DIR": str(shared)}
    proc, data = run_cli(tmp_path, DDP_BODY, "--no-set-epoch", torchrun=True, env=env)
    assert [f["code"] for f in data["findings"]] == ["sampler-epoch-not-set"], proc.stderr
    assert data["findings"][0]["ranks"] == ["rank 0", "rank 1"]
    assert list(shared.iterdir()) == []
