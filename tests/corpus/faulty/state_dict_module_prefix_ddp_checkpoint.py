# expect: state-dict-module-prefix
"""A checkpoint saved from the DDP wrapper (keys 'module.*'), loaded for inference into a plain
model: load_state_dict fails on every key."""

import os
import tempfile

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

folder = tempfile.mkdtemp()
dist.init_process_group("gloo", init_method=f"file://{folder}/init", rank=0, world_size=1)
try:
    model = DistributedDataParallel(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(16, 4)).pow(2).mean().backward()
        opt.step()
    path = os.path.join(folder, "model.pt")
    torch.save(model.state_dict(), path)
finally:
    dist.destroy_process_group()

inference = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
inference.load_state_dict(torch.load(path))
