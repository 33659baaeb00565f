"""Digits with an MLP on the accelerator, scored per class with a confusion matrix.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 3
BATCH_SIZE = 64
LR = 0.1
CLASSES = 10


@torch.no_grad()
def confusion_matrix(model: nn.Module, loader: DataLoader, device: torch.device) -> np.ndarray:
    """matrix[true class, predicted class] = number of validation examples."""
    model.eval()
    predicted, actual = [], []
    for x, y in loader:
        predicted.append(model(x.to(device)).argmax(dim=1))
        actual.append(y.to(device))
    predicted = torch.cat(predicted).cpu().numpy()
    actual = torch.cat(actual).cpu().numpy()
    matrix = np.zeros((CLASSES, CLASSES), dtype=np.int64)
    np.add.at(matrix, (actual, predicted), 1)
    return matrix


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = fixtures.digits(flat=True, seed=seed)
    train_loader = DataLoader(data.train_set(), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(data.val_set(), batch_size=256)

    model = fixtures.MLP(64, CLASSES, hidden=(64,)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(EPOCHS):
        model.train()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()

        matrix = confusion_matrix(model, val_loader, device)
        recall = matrix.diagonal() / matrix.sum(axis=1)
        accuracy = matrix.trace() / matrix.sum()
        print(
            f"epoch {epoch + 1}: val accuracy {accuracy:.1%}, "
            f"worst class {recall.argmin()} (recall {recall.min():.1%})"
        )

    return {"model": model, "confusion": matrix, "val_loader": val_loader}


if __name__ == "__main__":
    train()
