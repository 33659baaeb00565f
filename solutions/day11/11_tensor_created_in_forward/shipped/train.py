"""Digits with an MLP regularised by Gaussian input noise, on the accelerator if there is one.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 3
BATCH_SIZE = 64
LR = 6e-3
NOISE = 0.2


class GaussianNoise(nn.Module):
    """Adds N(0, sigma^2) noise to its input in training mode; does nothing in eval mode."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.sigma == 0:
            return x
        noise = torch.randn(x.shape) * self.sigma
        return x + noise


class NoisyMLP(nn.Module):
    def __init__(self, features: int, classes: int, sigma: float) -> None:
        super().__init__()
        self.noise = GaussianNoise(sigma)
        self.body = fixtures.MLP(features, classes, hidden=(64,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.noise(x))


def fit(model, optimizer, loader, device) -> float:
    """One epoch of training; returns the mean training loss."""
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / count


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = fixtures.digits(flat=True, seed=seed)
    loader = DataLoader(data.train_set(), batch_size=BATCH_SIZE, shuffle=True)

    model = NoisyMLP(64, 10, sigma=NOISE).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)

    for epoch in range(EPOCHS):
        loss = fit(model, optimizer, loader, device)
        model.eval()
        with torch.no_grad():
            logits = model(data.x_val.to(device))
            accuracy = (logits.argmax(1) == data.y_val.to(device)).float().mean().item()
        print(f"epoch {epoch + 1}: train loss {loss:.3f}, val accuracy {accuracy:.1%}")

    return {"model": model, "val_accuracy": accuracy}


if __name__ == "__main__":
    train()
