# expect: params-not-updating
"""A residual MLP whose hidden blocks are kept in a plain Python list."""

import torch
import torch.nn.functional as F
from torch import nn

import kata_fixtures as fixtures


class ResidualMLP(nn.Module):
    def __init__(self, width=32, depth=3):
        super().__init__()
        self.inp = nn.Linear(8, width)
        self.blocks = [nn.Linear(width, width) for _ in range(depth)]
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        h = F.relu(self.inp(x))
        for block in self.blocks:
            h = h + F.relu(block(h))
        return self.out(h)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = ResidualMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(4):
        for i in range(0, len(data.x_train), 32):
            optimizer.zero_grad()
            loss = F.mse_loss(model(data.x_train[i : i + 32]), data.y_train[i : i + 32])
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
