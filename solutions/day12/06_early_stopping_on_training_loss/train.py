"""Noisy two moons with a wide MLP: fit() stops early and returns the best model it saw.

Run it: python train.py
"""

import copy

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

MAX_EPOCHS = 60
PATIENCE = 8


def train_one_epoch(model, loader, optimizer, loss_fn):
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / count


def evaluate(model, x, y, loss_fn):
    model.eval()
    with torch.no_grad():
        return loss_fn(model(x), y).item()


def fit(model, data, optimizer, max_epochs=MAX_EPOCHS, patience=PATIENCE):
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(data.train_set(), batch_size=40, shuffle=True)
    train_losses, val_losses = [], []
    best_loss, best_epoch, best_state, waited = float("inf"), -1, None, 0

    for epoch in range(max_epochs):
        train_loss = train_one_epoch(model, loader, optimizer, loss_fn)
        val_loss = evaluate(model, data.x_val, data.y_val, loss_fn)
        train_losses.append(train_loss)
        val_losses.append(val_loss)

        if val_loss < best_loss:
            best_loss, best_epoch, waited = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= patience:
                break

    model.load_state_dict(best_state)
    return {"best_epoch": best_epoch, "train_losses": train_losses, "val_losses": val_losses}


def train(seed=0):
    torch.manual_seed(seed)
    data = fixtures.two_moons(n=160, noise=0.35, seed=seed)
    model = fixtures.MLP(2, 2, hidden=(128, 128))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    result = fit(model, data, optimizer)
    return {"model": model, "data": data, **result}


if __name__ == "__main__":
    result = train()
    epoch = result["best_epoch"]
    print(f"trained {len(result['val_losses'])} epochs, kept epoch {epoch}")
    print(f"validation loss there: {result['val_losses'][epoch]:.4f}")
    print(f"lowest validation loss: {min(result['val_losses']):.4f}")
