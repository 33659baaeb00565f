"""Regression with a hand-built network that applies dropout through torch.nn.functional.

Run it: python train.py
"""

import torch
import torch.nn.functional as F
from torch import nn

import kata_fixtures as fixtures


class DropoutRegressor(nn.Module):
    """Two hidden layers, each followed by dropout."""

    def __init__(self, in_features, hidden=64, p=0.2):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 1)
        self.p = p

    def forward(self, x):
        x = F.dropout(F.relu(self.fc1(x)), self.p, training=self.training)
        x = F.dropout(F.relu(self.fc2(x)), self.p, training=self.training)
        return self.out(x)


def predict(model, x):
    model.eval()
    with torch.no_grad():
        return model(x)


def train(seed=0, steps=300):
    torch.manual_seed(seed)
    data = fixtures.regression(seed=seed)
    model = DropoutRegressor(data.x_train.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    for _ in range(steps):  # full batch: the whole training set every step
        model.train()
        optimizer.zero_grad()
        loss = F.mse_loss(model(data.x_train), data.y_train)
        loss.backward()
        optimizer.step()

    val_mse = F.mse_loss(predict(model, data.x_val), data.y_val).item()
    return {"model": model, "data": data, "val_mse": val_mse}


if __name__ == "__main__":
    print(f"validation MSE: {train()['val_mse']:.4f}")
