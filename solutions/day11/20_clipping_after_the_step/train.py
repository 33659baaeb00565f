"""Sensor readings regressed with a small network and SGD with momentum.

A few training targets are glitches (a faulty sensor added 30 to them). Gradient clipping at
norm 1 was added so that one glitchy batch cannot throw the weights far off.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn

import kata_fixtures as fixtures

LR = 0.02
MAX_NORM = 1.0
EPOCHS = 10
GLITCH_EVERY = 64  # one training target in 64 is a sensor glitch


def load_data(seed):
    data = fixtures.regression(seed=seed)
    y_train = data.y_train.clone()
    y_train[::GLITCH_EVERY] += 30.0
    return data.x_train, y_train, data.x_val, data.y_val


def train(seed=0, epochs=EPOCHS):
    torch.manual_seed(seed)
    x_train, y_train, x_val, y_val = load_data(seed)
    model = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    loss_fn = nn.MSELoss()

    val_losses = []
    for _ in range(epochs):
        model.train()
        for x, y in zip(x_train.split(32), y_train.split(32), strict=True):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_losses.append(loss_fn(model(x_val), y_val).item())
    return {"model": model, "val_losses": val_losses}


if __name__ == "__main__":
    losses = train()["val_losses"]
    print(f"validation loss: first epoch {losses[0]:.3f}, last epoch {losses[-1]:.3f}")
