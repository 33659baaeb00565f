"""Classify the flattened 8x8 digits with a two-layer network, and measure how far training
moves each layer's weights from where they started.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 4
LR = 0.02


class DigitNet(nn.Module):
    def __init__(self, pixels=64, hidden=64, classes=10):
        super().__init__()
        self.hidden = nn.Linear(pixels, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.out(F.relu(self.hidden(x)))


def weight_travel(model, initial):
    """How far each weight matrix moved from its initial value, relative to its size."""
    start = dict(initial.named_parameters())
    return {
        name: ((p - start[name]).norm() / start[name].norm()).item()
        for name, p in model.named_parameters()
        if name.endswith("weight")
    }


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.digits(flat=True, seed=seed)
    loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)

    initial = DigitNet()
    model = copy.deepcopy(initial)  # train a copy: `initial` keeps the starting weights
    optimizer = torch.optim.SGD(initial.parameters(), lr=LR, momentum=0.9)

    for epoch in range(EPOCHS):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()

        model.eval()
        with torch.no_grad():
            accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
        travel = weight_travel(model, initial)
        moved = ", ".join(f"{name} {v:.1%}" for name, v in travel.items())
        print(f"epoch {epoch + 1}: val accuracy {accuracy:.1%}; weights moved: {moved}")

    return {"model": model, "initial": initial, "val_accuracy": accuracy, "travel": travel}


if __name__ == "__main__":
    train()
