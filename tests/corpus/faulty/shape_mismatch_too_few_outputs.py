# expect: shape-mismatch
"""The output layer is sized from the largest label (9) instead of the number of classes (10)."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    num_classes = int(data.y_train.max())
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, num_classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    criterion = nn.CrossEntropyLoss()
    for _epoch in range(2):
        for i in range(0, len(data.x_train), 64):
            optimizer.zero_grad()
            loss = criterion(model(data.x_train[i : i + 64]), data.y_train[i : i + 64])
            loss.backward()
            optimizer.step()
