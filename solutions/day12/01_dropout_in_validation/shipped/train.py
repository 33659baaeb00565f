"""Handwritten digits with a dropout MLP: a plain training loop with a validation pass per epoch.

Run it: python train.py
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


def evaluate(model, loader, loss_fn):
    """Average loss and accuracy of ``model`` over ``loader``."""
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            total_loss += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            count += len(y)
    return total_loss / count, correct / count


def train(seed=0, epochs=10):
    torch.manual_seed(seed)
    data = fixtures.digits(flat=True, seed=seed)
    train_loader = DataLoader(data.train_set(), batch_size=64, shuffle=True)
    val_loader = DataLoader(data.val_set(), batch_size=128)

    model = fixtures.MLP(64, 10, hidden=(128,), dropout=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()

    history = []
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        val_loss, val_acc = evaluate(model, val_loader, loss_fn)
        history.append({"epoch": epoch, "val_loss": val_loss, "val_acc": val_acc})

    return {"model": model, "val_loader": val_loader, "loss_fn": loss_fn, "history": history}


if __name__ == "__main__":
    result = train()
    for row in result["history"]:
        print(f"epoch {row['epoch']}: val loss {row['val_loss']:.4f}, val acc {row['val_acc']:.3f}")
