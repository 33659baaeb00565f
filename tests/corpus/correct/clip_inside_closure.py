"""LBFGS-style closure that clears, runs backward() and clips: the clip runs inside
optimizer.step(closure), before the update it bounds."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=128)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(data.x_train), data.y_train)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        return loss

    for _ in range(20):
        loss = optimizer.step(closure)
    print(loss.item())
