# expect: eval-without-no-grad
"""Validation in eval mode, but without torch.no_grad(): every batch builds a graph."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


def evaluate(model, loader, criterion):
    model.eval()
    total = 0.0
    for x, y in loader:
        total += criterion(model(x), y).item() * len(x)
    return total / len(loader.dataset)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    model = fixtures.MLP(2, 2, hidden=(32,), dropout=0.2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(3):
        model.train()
        for x, y in DataLoader(data.train_set(), batch_size=32, shuffle=True):
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        print(epoch, evaluate(model, DataLoader(data.val_set(), batch_size=64), criterion))
