"""Digits with an MLP, Adam and a step decay that halves the learning rate every 2 epochs.

Boss kata: this loop has two faults, from two different families. Find both.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 4
LR = 0.01
HALVE_EVERY = 2  # epochs


def train_step(model, optimizer, x, y):
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def train(seed=0):
    torch.manual_seed(seed)
    data = fixtures.digits(flat=True, seed=seed)
    loader = DataLoader(data.train_set(), batch_size=64, shuffle=True)
    model = fixtures.MLP(64, 10, hidden=(64,))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=HALVE_EVERY, gamma=0.5)

    history = {"lr": [], "loss": [], "val_accuracy": []}
    for _ in range(EPOCHS):
        history["lr"].append(optimizer.param_groups[0]["lr"])
        model.train()
        losses = []
        for x, y in loader:
            losses.append(train_step(model, optimizer, x, y))
            scheduler.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
        history["loss"].append(sum(losses) / len(losses))
        history["val_accuracy"].append(accuracy)
    return {"model": model, **history}


if __name__ == "__main__":
    result = train()
    for epoch, (lr, acc) in enumerate(zip(result["lr"], result["val_accuracy"], strict=True), 1):
        print(f"epoch {epoch}: lr {lr:.2e}, validation accuracy {acc:.1%}")
