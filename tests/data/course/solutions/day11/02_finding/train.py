"""Fit a small MLP with dropout to a regression problem with full-batch SGD."""

import torch
from torch import nn

import kata_fixtures as fixtures

STEPS = 40
LR = 0.05


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.regression(n=128, features=4, seed=seed)
    model = fixtures.MLP(4, 1, hidden=(16,), dropout=0.2)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.MSELoss()
    model.train()
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = loss_fn(model(data.x_train), data.y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses}


if __name__ == "__main__":
    print(train()["losses"][-1])
