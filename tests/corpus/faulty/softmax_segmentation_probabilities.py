# expect: softmax-before-cross-entropy
"""A segmentation net that returns per-pixel probabilities (softmax over channels), trained with
CrossEntropyLoss on (N, C, H, W)."""

import torch
import torch.nn.functional as F
from torch import nn


class SegNet(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, classes, 1)
        )

    def forward(self, x):
        return F.softmax(self.body(x), dim=1)


if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.randn(16, 1, 8, 8)
    mask = (x[:, 0] > 0.5).long() + (x[:, 0] > 1.5).long()
    model = SegNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss()
    for _step in range(10):
        optimizer.zero_grad()
        loss = criterion(model(x), mask)
        loss.backward()
        optimizer.step()
    print(loss.item())
