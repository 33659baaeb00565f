"""model.zero_grad(set_to_none=False): gradients zeroed in place, as older code does."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.05)
    criterion = nn.SmoothL1Loss()
    for epoch in range(5):
        for i in range(0, len(data.x_train), 64):
            model.zero_grad(set_to_none=False)
            output = model(data.x_train[i : i + 64])
            loss = criterion(output, data.y_train[i : i + 64])
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
