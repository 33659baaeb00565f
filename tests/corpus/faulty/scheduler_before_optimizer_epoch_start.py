# expect: scheduler-before-optimizer
"""The learning rate is 'set for the epoch' at its start: scheduler.step() before any batch."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    loader = DataLoader(data.train_set(), batch_size=128, shuffle=True)
    model = fixtures.MLP(64, 10, hidden=(32,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 4], gamma=0.1)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(5):
        scheduler.step()
        print(f"epoch {epoch}: lr {scheduler.get_last_lr()[0]:g}")
        for x, y in loader:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
