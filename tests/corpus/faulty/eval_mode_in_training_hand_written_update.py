# expect: eval-mode-in-training
"""Gradient descent written by hand, with dropout in the model and a validation pass each
epoch that puts the model in eval mode; nothing puts it back in training mode, so from the
second epoch on it trains with dropout off."""

import torch
from torch import nn

import kata_fixtures as fixtures


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(seed=0)
    model = nn.Sequential(
        nn.Linear(2, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 64), nn.ReLU(),
        nn.Dropout(0.3), nn.Linear(64, 2),
    )  # fmt: skip
    lr = 0.1
    model.train()
    for epoch in range(4):
        for i in range(0, len(data.x_train), 32):
            x, y = data.x_train[i : i + 32], data.y_train[i : i + 32]
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
                    p.grad = None
        print(epoch, loss.item(), evaluate(model, data.x_val, data.y_val))
