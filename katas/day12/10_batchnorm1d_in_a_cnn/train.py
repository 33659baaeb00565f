"""Handwritten digits with a hand-written CNN: two conv blocks with BatchNorm, then dropout.

Run it: python train.py
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

CONFIG = {"epochs": 3, "batch_size": 64, "lr": 3e-3, "dropout": 0.25}


class ConvNet(nn.Module):
    def __init__(self, classes=10, dropout=0.25):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm1d(8)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm1d(16)
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(16 * 4 * 4, classes)

    def forward(self, x):  # x: (N, 1, 8, 8)
        x = F.relu(self.bn1(self.conv1(x)))  # (N, 8, 8, 8)
        x = self.pool(F.relu(self.bn2(self.conv2(x))))  # (N, 16, 4, 4)
        return self.fc(self.dropout(x.flatten(1)))


def train(seed=0, config=CONFIG):
    torch.manual_seed(seed)
    data = fixtures.digits(seed=seed)
    loader = DataLoader(data.train_set(), batch_size=config["batch_size"], shuffle=True)
    model = ConvNet(dropout=config["dropout"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])

    for _ in range(config["epochs"]):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

    model.eval()
    with torch.no_grad():
        val_acc = (model(data.x_val).argmax(dim=1) == data.y_val).float().mean().item()
    return {"model": model, "val_acc": val_acc}


if __name__ == "__main__":
    print(f"validation accuracy: {train()['val_acc']:.3f}")
