"""Noisy regression with a wide dropout MLP that overfits, and an early-stopping helper that
keeps the best weights seen on the validation set.

Boss kata: this loop has two faults, from two different families. Find both.

Run it: python train.py
"""

import math

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs; keep the best."""

    def __init__(self, patience=5):
        self.patience = patience
        self.best_loss = math.inf
        self.best_epoch = -1
        self.best_state = None
        self.bad_epochs = 0

    def step(self, epoch, val_loss, model):
        """Record one epoch; return True when training should stop."""
        if val_loss < self.best_loss:
            self.best_loss = val_loss
            self.best_epoch = epoch
            self.best_state = model.state_dict()
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def restore_best(self, model):
        model.load_state_dict(self.best_state)


def validation_loss(model, x, y):
    with torch.no_grad():
        return F.mse_loss(model(x), y).item()


def train(seed=0, max_epochs=40):
    torch.manual_seed(seed)
    data = fixtures.regression(n=160, noise=0.5, seed=seed)
    loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    model = fixtures.MLP(8, 1, hidden=(128, 128), dropout=0.3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    stopper = EarlyStopping(patience=5)

    history = []
    for epoch in range(max_epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
        val_loss = validation_loss(model, data.x_val, data.y_val)
        history.append(val_loss)
        if stopper.step(epoch, val_loss, model):
            break

    stopper.restore_best(model)
    return {"model": model, "data": data, "history": history, "stopper": stopper}


if __name__ == "__main__":
    result = train()
    stopper = result["stopper"]
    print(f"stopped after {len(result['history'])} epochs")
    print(f"best epoch {stopper.best_epoch}: validation loss {stopper.best_loss:.4f}")
    data = result["data"]
    restored = validation_loss(result["model"], data.x_val, data.y_val)
    print(f"restored model: validation loss {restored:.4f}")
