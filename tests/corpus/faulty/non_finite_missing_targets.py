# expect: non-finite-loss
"""Targets read from a table column where a few values are missing (NaN)."""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    targets = data.y_train.clone()
    targets[[17, 101]] = float("nan")  # empty cells in the CSV
    loader = DataLoader(TensorDataset(data.x_train, targets), batch_size=32, shuffle=True)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(2):
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
