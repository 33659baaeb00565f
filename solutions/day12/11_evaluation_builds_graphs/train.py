"""Regression with a dropout MLP; predict() serves both the per-epoch validation and inference.

Run it: python train.py
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


def predict(model, x):
    """The model's predictions for ``x``, with dropout off."""
    model.eval()
    with torch.no_grad():  # nothing here will be backpropagated: record no graph
        return model(x)


def fit(model, data, epochs=15, lr=3e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    val_history = []
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
        val_history.append(F.mse_loss(predict(model, data.x_val), data.y_val).item())
    return val_history


def train(seed=0):
    torch.manual_seed(seed)
    data = fixtures.regression(seed=seed)
    model = fixtures.MLP(8, 1, hidden=(64, 64), dropout=0.1)
    val_history = fit(model, data)
    return {"model": model, "data": data, "val_history": val_history}


if __name__ == "__main__":
    result = train()
    print("validation MSE by epoch:", ", ".join(f"{v:.4f}" for v in result["val_history"]))
