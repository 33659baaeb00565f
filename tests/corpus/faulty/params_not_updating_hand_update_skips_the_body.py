# expect: params-not-updating
"""Gradient descent written by hand over a list of parameters built before the model grew a
second hidden layer: the new layer gets gradients from every backward(), but the loop that
updates the parameters never touches it."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(seed=0)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))
    params = list(model.parameters())  # taken here, before the model changes
    model.insert(2, nn.Linear(32, 32))
    model.insert(3, nn.Tanh())
    lr = 0.1
    for epoch in range(5):
        for i in range(0, len(data.x_train), 32):
            loss = nn.functional.cross_entropy(
                model(data.x_train[i : i + 32]), data.y_train[i : i + 32]
            )
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
            model.zero_grad()
        print(epoch, loss.item())
