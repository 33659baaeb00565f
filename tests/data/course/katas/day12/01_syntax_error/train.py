"""Fit a linear model to a small regression problem with full-batch SGD."""

import torch
from torch import nn

import kata_fixtures as fixtures

STEPS = 40
LR = 0.1


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.regression(n=128, features=4, seed=seed)
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(STEPS)
        optimizer.zero_grad()
        loss = loss_fn(model(data.x_train), data.y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses}


if __name__ == "__main__":
    print(train()["losses"][-1])
