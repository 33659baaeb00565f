"""Regression with a BatchNorm MLP on a small data set: a plain mini-batch training loop.

Run it: python train.py
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

BATCH_SIZE = 32
EPOCHS = 20


def train(seed=0):
    torch.manual_seed(seed)
    data = fixtures.regression(n=300, seed=seed)  # 225 training rows, 75 for validation
    train_loader = DataLoader(data.train_set(), batch_size=BATCH_SIZE, shuffle=True)

    model = fixtures.MLP(8, 1, hidden=(64, 64), batch_norm=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    for epoch in range(EPOCHS):
        model.train()
        total = 0.0
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        print(f"epoch {epoch + 1}: train MSE {total / len(train_loader.dataset):.4f}")

    model.eval()
    with torch.no_grad():
        val_mse = F.mse_loss(model(data.x_val), data.y_val).item()
    print(f"validation MSE {val_mse:.4f}")
    return {"model": model, "loader": train_loader, "val_mse": val_mse}


if __name__ == "__main__":
    train()
