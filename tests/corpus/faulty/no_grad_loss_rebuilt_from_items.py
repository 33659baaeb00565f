# expect: no-grad-training
"""Per-sample losses collected with .item() and averaged into a new tensor before backward()."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=128)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for epoch in range(3):
        for i in range(0, len(data.x_train), 16):
            per_sample = [
                criterion(model(x.unsqueeze(0)), y.unsqueeze(0)).item()
                for x, y in zip(data.x_train[i : i + 16], data.y_train[i : i + 16], strict=True)
            ]
            loss = torch.tensor(per_sample, requires_grad=True).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
