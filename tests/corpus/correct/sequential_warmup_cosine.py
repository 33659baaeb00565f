"""Linear warm-up then cosine decay, chained with SequentialLR and stepped every batch."""

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=320)
    loader = DataLoader(data.train_set(), batch_size=16, shuffle=True)
    epochs = 4
    total = epochs * len(loader)
    warmup = total // 10
    model = fixtures.MLP(2, 2, hidden=(32,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
    scheduler = SequentialLR(
        optimizer,
        schedulers=[
            LinearLR(optimizer, start_factor=0.01, total_iters=warmup),
            CosineAnnealingLR(optimizer, T_max=total - warmup),
        ],
        milestones=[warmup],
    )
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        print(epoch, scheduler.get_last_lr())
