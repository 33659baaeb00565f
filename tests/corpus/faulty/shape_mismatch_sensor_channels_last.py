# expect: shape-mismatch
"""Sensor windows stored as (batch, time, channels) given to a Conv1d, which wants channels
first."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

if __name__ == "__main__":
    torch.manual_seed(0)
    windows = torch.randn(128, 50, 3)  # accelerometer x, y, z over 50 time steps
    labels = (windows[:, :, 0].mean(1) > 0).long()
    model = nn.Sequential(
        nn.Conv1d(3, 16, kernel_size=5),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(16, 2),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in DataLoader(TensorDataset(windows, labels), batch_size=32, shuffle=True):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
