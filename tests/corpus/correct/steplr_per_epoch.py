"""StepLR written in epochs and stepped once per epoch."""

import torch
from torch import nn
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


def run_epoch(model, loader, optimizer, criterion):
    model.train()
    for images, labels in loader:
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
    return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    loader = DataLoader(data.train_set(), batch_size=128, shuffle=True)
    model = fixtures.MLP(64, 10, hidden=(32,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
    for epoch in range(6):
        loss = run_epoch(model, loader, optimizer, nn.CrossEntropyLoss())
        scheduler.step()
        print(epoch, loss, scheduler.get_last_lr())
