"""Handwritten digits with a small CNN (BatchNorm and dropout), driven by a small Trainer class.

Run it: python train.py
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


class Trainer:
    """Fits a classifier one epoch at a time and validates it after each epoch."""

    def __init__(self, model, optimizer, train_loader, val_loader):
        self.model = model
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.loss_fn = nn.CrossEntropyLoss()
        self.history = []

    def train_epoch(self):
        total, count = 0.0, 0
        for x, y in self.train_loader:
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(y)
            count += len(y)
        return total / count

    def validate(self):
        self.model.eval()
        correct, count = 0, 0
        with torch.no_grad():
            for x, y in self.val_loader:
                correct += (self.model(x).argmax(dim=1) == y).sum().item()
                count += len(y)
        return correct / count

    def fit(self, epochs):
        self.model.train()
        for epoch in range(epochs):
            train_loss = self.train_epoch()
            val_acc = self.validate()
            self.history.append({"epoch": epoch, "train_loss": train_loss, "val_acc": val_acc})
        return self.history


def build_trainer(seed=0):
    torch.manual_seed(seed)
    data = fixtures.digits(seed=seed)
    model = fixtures.SmallCNN(in_channels=1, classes=10, width=8, dropout=0.3)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    return Trainer(
        model,
        optimizer,
        DataLoader(data.train_set(), batch_size=64, shuffle=True),
        DataLoader(data.val_set(), batch_size=256),
    )


def train(seed=0, epochs=3):
    trainer = build_trainer(seed)
    trainer.fit(epochs)
    return trainer


if __name__ == "__main__":
    for row in train().history:
        print(
            f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, "
            f"val acc {row['val_acc']:.3f}"
        )
