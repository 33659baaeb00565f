# expect: shape-mismatch
"""Class labels kept as an (N, 1) column, as read from a table, given to CrossEntropyLoss."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    labels = data.y_train.view(-1, 1)  # the label column
    model = fixtures.MLP(2, 2, hidden=(16,), dropout=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss()
    for i in range(0, len(labels), 32):
        optimizer.zero_grad()
        loss = criterion(model(data.x_train[i : i + 32]), labels[i : i + 32])
        loss.backward()
        optimizer.step()
