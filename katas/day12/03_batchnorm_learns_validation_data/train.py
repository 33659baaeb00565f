"""Two moons with a BatchNorm MLP; the validation loss is logged every few steps mid-epoch.

Run it: python train.py
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 10
LOG_EVERY = 4  # steps between two validation checks


def evaluate(model, loader, loss_fn):
    """Validation loss and accuracy; called in the middle of an epoch."""
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():  # evaluation only: nothing in here changes the model
        for x, y in loader:
            logits = model(x)
            total_loss += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            count += len(y)
    return total_loss / count, correct / count


def fit(model, train_loader, val_loader, epochs=EPOCHS):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    log = []
    step = 0
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            step += 1
            if step % LOG_EVERY == 0:
                val_loss, val_acc = evaluate(model, val_loader, loss_fn)
                log.append({"epoch": epoch, "step": step, "val_loss": val_loss, "val_acc": val_acc})
    return log


def train(seed=0):
    torch.manual_seed(seed)
    data = fixtures.two_moons(seed=seed)
    train_loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    val_loader = DataLoader(data.val_set(), batch_size=64)
    model = fixtures.MLP(2, 2, hidden=(32, 32), batch_norm=True)
    log = fit(model, train_loader, val_loader)
    return {"model": model, "val_loader": val_loader, "log": log}


if __name__ == "__main__":
    for row in train()["log"]:
        print(f"step {row['step']}: val loss {row['val_loss']:.4f}, val acc {row['val_acc']:.3f}")
