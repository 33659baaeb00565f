# expect: loss-broadcast
"""Linear regression written from scratch: the squared error is computed by hand between the
(N, 1) predictions and a flat (N,) target vector."""

import torch
from torch import nn

import kata_fixtures as fixtures


class LinearRegression(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.linear = nn.Linear(features, 1)

    def forward(self, x):
        return self.linear(x)


def mse(pred, target):
    return ((pred - target) ** 2).mean()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    y = data.y_train.flatten()
    model = LinearRegression(8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for epoch in range(5):
        for i in range(0, len(y), 32):
            optimizer.zero_grad()
            loss = mse(model(data.x_train[i : i + 32]), y[i : i + 32])
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
