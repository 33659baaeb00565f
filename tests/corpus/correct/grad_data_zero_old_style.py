"""Older code: the gradients cleared by hand with p.grad.data.zero_() before each backward."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(3):
        for i in range(0, len(data.x_train), 32):
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.data.zero_()
            loss = criterion(model(data.x_train[i : i + 32]), data.y_train[i : i + 32])
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
