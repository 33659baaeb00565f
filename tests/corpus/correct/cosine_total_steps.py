"""CosineAnnealingLR over all the batches of the run, stepped per batch."""

import math

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=320)
    loader = DataLoader(data.train_set(), batch_size=16, shuffle=True, drop_last=True)
    epochs = 5
    model = fixtures.MLP(8, 1, hidden=(32,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=epochs * len(loader), eta_min=1e-5
    )
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        print(epoch, scheduler.get_last_lr()[0])
    assert not math.isnan(scheduler.get_last_lr()[0])
