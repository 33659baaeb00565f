"""OneCycleLR stepped after every batch: a per-batch scheduler, as it is meant to be used.

OneCycleLR counts optimizer steps (epochs * steps_per_epoch), so scheduler.step() belongs in
the batch loop, after optimizer.step().
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

DAY = 11
EPOCHS = 10


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.two_moons(seed=seed)
    loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    model = fixtures.MLP(2, 2, hidden=(32, 32))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.2, epochs=EPOCHS, steps_per_epoch=len(loader)
    )
    loss_fn = nn.CrossEntropyLoss()

    losses = []
    for _epoch in range(EPOCHS):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()  # every batch: OneCycleLR's schedule is in steps
            losses.append(loss.item())

        model.eval()
        with torch.no_grad():
            accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
    return {"model": model, "losses": losses, "val_accuracy": accuracy}


if __name__ == "__main__":
    print(train()["val_accuracy"])
