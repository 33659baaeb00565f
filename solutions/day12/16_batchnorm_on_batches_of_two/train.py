"""Digits with a normalized MLP, trained on batches of two.

The batch size is 2: this loop is the small-scale copy of a fine-tuning job whose inputs are so
large that only two fit in memory at once. The hidden layers are normalized so that the deeper
network trains at this learning rate.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn

import kata_fixtures as fixtures

BATCH_SIZE = 2  # what fits in memory
EPOCHS = 1  # one pass over the data, as the full-size job makes
HIDDEN = 64


def norm(width):
    """The normalization after each hidden Linear: per example, whatever the batch size."""
    return nn.LayerNorm(width)


def make_model():
    return nn.Sequential(
        nn.Linear(64, HIDDEN),
        norm(HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, HIDDEN),
        norm(HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, 10),
    )


def train(seed=0, epochs=EPOCHS):
    torch.manual_seed(seed)
    data = fixtures.digits(flat=True, seed=seed)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(seed)

    val_accuracies = []
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(data.x_train), generator=order).split(BATCH_SIZE):
            optimizer.zero_grad()
            loss_fn(model(data.x_train[idx]), data.y_train[idx]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            predicted = model(data.x_val).argmax(1)
        val_accuracies.append((predicted == data.y_val).float().mean().item())
    return {"model": model, "val_accuracies": val_accuracies}


if __name__ == "__main__":
    accuracies = train()["val_accuracies"]
    print("validation accuracy per epoch: " + ", ".join(f"{a:.1%}" for a in accuracies))
