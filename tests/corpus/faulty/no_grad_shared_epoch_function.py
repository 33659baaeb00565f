# expect: no-grad-training
"""One run_epoch() for training and validation, decorated with @torch.no_grad() for the sake of
validation."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


@torch.no_grad()
def run_epoch(model, loader, criterion, optimizer=None):
    training = optimizer is not None
    model.train(training)
    total = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        if training:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        total += loss.item() * len(x)
    return total / len(loader.dataset)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    model = fixtures.MLP(2, 2, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(3):
        train_loss = run_epoch(
            model, DataLoader(data.train_set(), batch_size=32), criterion, optimizer
        )
        val_loss = run_epoch(model, DataLoader(data.val_set(), batch_size=64), criterion)
        print(epoch, train_loss, val_loss)
