"""Gradient accumulation written the other way round: zero_grad() at the start of each window
of k batches, step() at its end."""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

ACCUM = 3

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=384)
    loader = DataLoader(data.train_set(), batch_size=8, shuffle=True, drop_last=True)
    model = fixtures.MLP(2, 2, hidden=(32,), dropout=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    model.train()
    for epoch in range(2):
        for i, (x, y) in enumerate(loader):
            if i % ACCUM == 0:
                optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y) / ACCUM
            loss.backward()
            if i % ACCUM == ACCUM - 1:
                optimizer.step()
        print(epoch, loss.item() * ACCUM)
