# expect: scheduler-per-batch
"""A train_one_epoch() helper that steps the scheduler it is given after every batch, with a
CosineAnnealingLR whose T_max is the number of epochs: the cosine bottoms out within the
first epoch and cycles from there."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 8


def train_one_epoch(model, loader, optimizer, scheduler):
    model.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item()
    return total / len(loader)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    model = fixtures.MLP(2, 2, hidden=(16,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    for epoch in range(EPOCHS):
        print(epoch, train_one_epoch(model, loader, optimizer, scheduler))
