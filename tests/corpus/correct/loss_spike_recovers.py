"""Regression where a few corrupted batches (a unit error in the targets, fixed after a
while) send the loss up by orders of magnitude for some steps; it comes back down once the
data are clean, and training continues normally."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for step in range(120):
        i = (step * 32) % 192
        x, y = data.x_train[i : i + 32], data.y_train[i : i + 32]
        if 40 <= step < 50:
            y = y * 1000  # millimetres for metres, in one shard of the data
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    print(history[0], max(history), history[-1])
