"""A regression network trained with Adam; the learning rate is cut when the validation loss
stops improving (ReduceLROnPlateau).

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

import kata_fixtures as fixtures

LR = 0.01
EPOCHS = 30


def make_scheduler(optimizer):
    """Halve the learning rate after 3 epochs without a better validation loss."""
    return ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=3)


def train(seed=0, epochs=EPOCHS):
    torch.manual_seed(seed)
    data = fixtures.regression(seed=seed)
    model = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    scheduler = make_scheduler(optimizer)
    loss_fn = nn.MSELoss()

    val_losses, lrs = [], []
    for _ in range(epochs):
        model.train()
        for x, y in zip(data.x_train.split(32), data.y_train.split(32), strict=True):
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(data.x_val), data.y_val).item()
        scheduler.step(val_loss)
        val_losses.append(val_loss)
        lrs.append(optimizer.param_groups[0]["lr"])
    return {"model": model, "val_losses": val_losses, "lrs": lrs}


if __name__ == "__main__":
    result = train()
    print(f"validation loss {result['val_losses'][-1]:.4f}, final lr {result['lrs'][-1]:.2e}")
