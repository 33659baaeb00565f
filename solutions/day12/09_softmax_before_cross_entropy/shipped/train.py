"""Digits with a custom classifier (BatchNorm and dropout) trained with cross-entropy.

Run it: python train.py
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


class DigitClassifier(nn.Module):
    def __init__(self, in_features=64, classes=10, hidden=128, p=0.2):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(p),
        )
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        scores = self.head(self.body(x))
        return torch.softmax(scores, dim=1)  # class probabilities


def train_step(model, optimizer, loss_fn, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def train(seed=0, epochs=6):
    torch.manual_seed(seed)
    data = fixtures.digits(flat=True, seed=seed)
    loader = DataLoader(data.train_set(), batch_size=64, shuffle=True, drop_last=True)
    model = DigitClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()

    epoch_losses = []
    for _ in range(epochs):
        model.train()
        losses = [train_step(model, optimizer, loss_fn, x, y) for x, y in loader]
        epoch_losses.append(sum(losses) / len(losses))
    val_acc = accuracy(model, data.x_val, data.y_val)
    return {"model": model, "epoch_losses": epoch_losses, "val_acc": val_acc}


if __name__ == "__main__":
    result = train()
    print("training loss by epoch:", ", ".join(f"{v:.3f}" for v in result["epoch_losses"]))
    print(f"validation accuracy: {result['val_acc']:.3f}")
