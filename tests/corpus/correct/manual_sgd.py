"""Gradient descent written by hand, without an optimizer."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    lr = 0.05
    for epoch in range(20):
        pred = model(data.x_train)
        loss = ((pred - data.y_train) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
                p.grad.zero_()
        if epoch % 5 == 0:
            print(epoch, loss.item())
