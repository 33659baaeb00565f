# expect: scheduler-per-batch
"""LambdaLR with an epoch-based decay, lambda epoch: 0.9 ** epoch, stepped after every batch."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=400)
    loader = DataLoader(data.train_set(), batch_size=16, shuffle=True)
    model = fixtures.MLP(2, 2, hidden=(32,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda epoch: 0.9**epoch)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(10):
        for x, y in loader:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        print(epoch, scheduler.get_last_lr())
