"""Digits with an MLP, trained with SGD and momentum as the baseline to beat.

The first version of this script used torch.optim.Adam(lr=1e-3). For the baseline run the
optimizer was switched to SGD with momentum, the recipe of most vision papers.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

CONFIG = {"optimizer": "sgd", "lr": 1e-3, "momentum": 0.9, "epochs": 5, "batch_size": 64}


def make_optimizer(model, config):
    if config["optimizer"] == "adam":
        return torch.optim.Adam(model.parameters(), lr=config["lr"])
    return torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])


def train(seed=0, config=CONFIG):
    torch.manual_seed(seed)
    data = fixtures.digits(flat=True, seed=seed)
    loader = DataLoader(data.train_set(), batch_size=config["batch_size"], shuffle=True)
    model = fixtures.MLP(64, 10, hidden=(128,))
    optimizer = make_optimizer(model, config)
    loss_fn = nn.CrossEntropyLoss()

    history = []
    for epoch in range(config["epochs"]):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
        history.append(accuracy)
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, validation accuracy {accuracy:.1%}")
    return {"model": model, "optimizer": optimizer, "val_accuracy": history}


if __name__ == "__main__":
    train()
