"""A DDP checkpoint (keys 'module.*') loaded into a plain model with the prefix taken off, and a
sampler whose order is set per epoch while the same epoch's shard is also evaluated."""

import os
import tempfile

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

folder = tempfile.mkdtemp()
dist.init_process_group("gloo", init_method=f"file://{folder}/init", rank=0, world_size=1)
try:
    data = TensorDataset(torch.randn(32, 4), torch.randn(32, 2))
    sampler = DistributedSampler(data, shuffle=True)
    loader = DataLoader(data, batch_size=8, sampler=sampler)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        with torch.no_grad():  # the training shard of this epoch, once more: same order
            train_loss = sum(nn.functional.mse_loss(model(x), y).item() for x, y in loader)
    path = os.path.join(folder, "model.pt")
    torch.save(model.state_dict(), path)
finally:
    dist.destroy_process_group()

inference = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
state = torch.load(path)
inference.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
