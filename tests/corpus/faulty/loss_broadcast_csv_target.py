# expect: loss-broadcast
"""House prices from a table: the target column is 1-D, the model's output is (N, 1)."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    table = torch.cat([data.x_train, data.y_train], dim=1)  # as loaded from a CSV
    features, prices = table[:, :-1], table[:, -1]
    loader = DataLoader(TensorDataset(features, prices), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.MSELoss()
    for epoch in range(3):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
