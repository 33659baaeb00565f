"""A regression network trained with Adam, with two guards on the validation loss: a
ReduceLROnPlateau schedule cuts the learning rate on a plateau, and early stopping ends the run
(keeping the best weights) when the validation loss stops improving.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import copy

import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

import kata_fixtures as fixtures

LR = 0.03
EPOCHS = 40
PATIENCE = 10  # longer than the scheduler's: the lowered rate gets epochs to work


def make_scheduler(optimizer):
    """Cut the learning rate 5x when the validation loss has not improved for 5 epochs."""
    return ReduceLROnPlateau(optimizer, mode="min", factor=0.2, patience=5)


class EarlyStopping:
    """step(val_loss) says whether to stop: after PATIENCE epochs without a better loss."""

    def __init__(self, patience=PATIENCE):
        self.patience = patience
        self.best = float("inf")
        self.waited = 0

    def step(self, val_loss):
        if val_loss < self.best:
            self.best, self.waited = val_loss, 0
            return False
        self.waited += 1
        return self.waited >= self.patience


def train(seed=0, epochs=EPOCHS):
    torch.manual_seed(seed)
    data = fixtures.regression(seed=seed)
    model = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    scheduler = make_scheduler(optimizer)
    stopper = EarlyStopping()
    loss_fn = nn.MSELoss()

    val_losses, lrs, best_state = [], [], None
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])  # the rate this epoch trains at
        model.train()
        for x, y in zip(data.x_train.split(32), data.y_train.split(32), strict=True):
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(data.x_val), data.y_val).item()
        val_losses.append(val_loss)
        if val_loss < stopper.best:
            best_state = copy.deepcopy(model.state_dict())
        scheduler.step(val_loss)
        if stopper.step(val_loss):
            break
    model.load_state_dict(best_state)
    return {"model": model, "val_losses": val_losses, "lrs": lrs, "best_val_loss": stopper.best}


if __name__ == "__main__":
    result = train()
    print(
        f"stopped after {len(result['val_losses'])} epochs, best validation loss "
        f"{result['best_val_loss']:.4f}, learning rates used: {sorted(set(result['lrs']))}"
    )
