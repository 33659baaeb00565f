# expect: train-mode-in-eval
"""validate() says model.eval without the parentheses: the model stays in training mode."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


def validate(model, loader):
    model.eval  # noqa: B018 - the fault: the method is never called
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct / len(loader.dataset)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = fixtures.MLP(64, 10, hidden=(64,), dropout=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(3):
        model.train()
        for x, y in DataLoader(data.train_set(), batch_size=128, shuffle=True):
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        print(epoch, validate(model, DataLoader(data.val_set(), batch_size=256)))
