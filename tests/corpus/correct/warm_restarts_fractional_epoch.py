"""CosineAnnealingWarmRestarts stepped every batch with a fractional epoch, as its
documentation shows: scheduler.step(epoch + i / iters)."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=320)
    loader = DataLoader(data.train_set(), batch_size=16, shuffle=True)
    model = fixtures.MLP(8, 1, hidden=(32,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=2)
    criterion = nn.MSELoss()
    iters = len(loader)
    for epoch in range(6):
        for i, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step(epoch + i / iters)
        print(epoch, scheduler.get_last_lr())
