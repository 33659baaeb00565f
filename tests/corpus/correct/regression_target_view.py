"""Regression on a 1-D target reshaped with .view(-1, 1) to match the (N, 1) output."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    y_flat = data.y_train.squeeze(1)  # as read from a CSV column: shape (N,)
    loader = DataLoader(TensorDataset(data.x_train, y_flat), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.L1Loss()
    for epoch in range(4):
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y.view(-1, 1))
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
