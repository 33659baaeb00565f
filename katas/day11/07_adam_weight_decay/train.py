"""Classify tiny bar images with an MLP on the flattened pixels, with weight decay on the
weight matrices (not on biases), the usual recipe for decoupled weight decay.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

CONFIG = {"lr": 3e-3, "weight_decay": 0.05, "epochs": 6, "batch_size": 32}


def configure_optimizer(model, config):
    """Decay the weight matrices only: biases (1-D parameters) get no weight decay."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [
        {"params": decay, "weight_decay": config["weight_decay"]},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.Adam(groups, lr=config["lr"])


def train(seed: int = 0, config: dict = CONFIG) -> dict:
    torch.manual_seed(seed)
    data = fixtures.tiny_images(seed=seed)
    x_train, x_val = data.x_train.flatten(1), data.x_val.flatten(1)  # (N, 3*8*8)
    loader = DataLoader(
        torch.utils.data.TensorDataset(x_train, data.y_train),
        batch_size=config["batch_size"],
        shuffle=True,
    )
    model = fixtures.MLP(x_train.shape[1], 4, hidden=(64,))
    optimizer = configure_optimizer(model, config)

    for epoch in range(config["epochs"]):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()

        model.eval()
        with torch.no_grad():
            accuracy = (model(x_val).argmax(1) == data.y_val).float().mean().item()
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.3f}, val accuracy {accuracy:.1%}")

    return {"model": model, "val_accuracy": accuracy}


if __name__ == "__main__":
    train()
