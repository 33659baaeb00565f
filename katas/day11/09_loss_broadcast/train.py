"""Regression on 8 features, Lightning style: the model knows its own training and
validation steps, and a generic fit() loop drives it.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 12
LR = 3e-3


class Regressor(nn.Module):
    def __init__(self, features=8, hidden=32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)  # one prediction per sample: (batch,)

    def training_step(self, batch):
        x, y = batch
        return F.mse_loss(self(x), y)

    @torch.no_grad()
    def validation_step(self, batch):
        x, y = batch
        return F.mse_loss(self(x), y, reduction="sum").item()


def fit(module, train_loader, val_loader, optimizer, epochs):
    history = []
    for epoch in range(epochs):
        module.train()
        for batch in train_loader:
            optimizer.zero_grad()
            module.training_step(batch).backward()
            optimizer.step()
        module.eval()
        val_mse = sum(module.validation_step(b) for b in val_loader) / len(val_loader.dataset)
        history.append(val_mse)
        print(f"epoch {epoch + 1}: val mse {val_mse:.4f}")
    return history


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.regression(seed=seed)
    train_loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    val_loader = DataLoader(data.val_set(), batch_size=128)
    model = Regressor()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    history = fit(model, train_loader, val_loader, optimizer, EPOCHS)
    return {"model": model, "val_mse": history}


if __name__ == "__main__":
    train()
