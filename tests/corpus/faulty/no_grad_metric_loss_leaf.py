# expect: no-grad-training
"""A Dice 'loss' computed with NumPy, wrapped in torch.tensor(..., requires_grad=True) so that
backward() stops complaining."""

import numpy as np
import torch
from torch import nn


def dice_score(pred: np.ndarray, target: np.ndarray) -> float:
    inter = (pred * target).sum()
    return float((2 * inter + 1) / (pred.sum() + target.sum() + 1))


if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.randn(64, 1, 8, 8)
    masks = (x > 0.5).float()
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(5):
        for i in range(0, 64, 16):
            probs = torch.sigmoid(model(x[i : i + 16]))
            score = dice_score(probs.detach().numpy(), masks[i : i + 16].numpy())
            loss = torch.tensor(1.0 - score, requires_grad=True)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
