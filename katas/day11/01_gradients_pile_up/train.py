"""Classify the two moons with a small MLP, trained by SGD with momentum.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 15
BATCH_SIZE = 32
LR = 0.05


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.two_moons(seed=seed)
    loader = DataLoader(data.train_set(), batch_size=BATCH_SIZE, shuffle=True)

    model = fixtures.MLP(2, 2, hidden=(32, 32))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    losses = []
    for epoch in range(EPOCHS):
        model.train()
        running = 0.0
        for x, y in loader:
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(x)
        losses.append(running / len(loader.dataset))

        model.eval()
        with torch.no_grad():
            accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
        print(f"epoch {epoch + 1}: train loss {losses[-1]:.3f}, val accuracy {accuracy:.1%}")

    return {"model": model, "losses": losses, "val_accuracy": accuracy}


if __name__ == "__main__":
    train()
