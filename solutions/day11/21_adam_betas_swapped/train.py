"""A small regression network trained with Adam.

The betas were copied from a write-up that lists "the decay rates 0.9 and 0.999" without
saying which is which.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn

import kata_fixtures as fixtures

LR = 0.01
BETAS = (0.9, 0.999)  # Adam's decay rates: beta1 (the mean), beta2 (the square)
EPOCHS = 20


def make_optimizer(params):
    return torch.optim.Adam(params, lr=LR, betas=BETAS)


def train(seed=0, epochs=EPOCHS):
    torch.manual_seed(seed)
    data = fixtures.regression(seed=seed)
    model = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 1))
    optimizer = make_optimizer(model.parameters())
    loss_fn = nn.MSELoss()

    val_losses = []
    for _ in range(epochs):
        model.train()
        for x, y in zip(data.x_train.split(32), data.y_train.split(32), strict=True):
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_losses.append(loss_fn(model(data.x_val), data.y_val).item())
    return {"model": model, "val_losses": val_losses}


if __name__ == "__main__":
    losses = train()["val_losses"]
    print(f"validation loss: first epoch {losses[0]:.3f}, last epoch {losses[-1]:.3f}")
