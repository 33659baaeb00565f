# expect: sampler-epoch-not-set
"""One rank's view of a DDP data pipeline: the sampler shuffles, but set_epoch is never called."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

torch.manual_seed(0)
data = TensorDataset(torch.randn(64, 8), torch.randint(0, 2, (64,)))
# num_replicas/rank given explicitly, as each rank of a launch computes them
sampler = DistributedSampler(data, num_replicas=2, rank=0, shuffle=True, seed=7)
loader = DataLoader(data, batch_size=8, sampler=sampler)
model = nn.Linear(8, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.CrossEntropyLoss()

for _epoch in range(3):
    for x, y in loader:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
