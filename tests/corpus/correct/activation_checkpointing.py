"""Activation checkpointing of the blocks of a deep MLP with dropout."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return x + self.drop(F.gelu(self.fc(x)))


class DeepMLP(nn.Module):
    def __init__(self, width=32, depth=4):
        super().__init__()
        self.inp = nn.Linear(8, width)
        self.blocks = nn.ModuleList(Block(width) for _ in range(depth))
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = checkpoint(block, h, use_reentrant=False) if self.training else block(h)
        return self.out(h)


if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = x[:, :1] * 2 - x[:, 1:2]
    model = DeepMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _step in range(30):
        model.train()
        idx = torch.randint(0, 256, (32,))
        loss = F.mse_loss(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        print(loss.item(), F.mse_loss(model(x), y).item())
