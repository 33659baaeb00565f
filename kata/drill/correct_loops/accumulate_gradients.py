"""Gradient accumulation done right: four micro-batches per optimizer step.

zero_grad() is called once per step, not once per batch, on purpose: backward() adds each
micro-batch's gradients (each loss divided by ACCUMULATE) until the step uses their mean.
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

DAY = 11
EPOCHS = 8
ACCUMULATE = 4  # micro-batches per optimizer step


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.two_moons(seed=seed)
    loader = DataLoader(data.train_set(), batch_size=8, shuffle=True, drop_last=True)
    model = fixtures.MLP(2, 2, hidden=(32, 32))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    losses = []
    for _epoch in range(EPOCHS):
        model.train()
        optimizer.zero_grad()
        for i, (x, y) in enumerate(loader):
            loss = loss_fn(model(x), y) / ACCUMULATE
            loss.backward()  # adds to .grad: the micro-batches of one step are summed
            if (i + 1) % ACCUMULATE == 0:
                optimizer.step()
                optimizer.zero_grad()
            losses.append(loss.item() * ACCUMULATE)

        model.eval()
        with torch.no_grad():
            accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
    return {"model": model, "losses": losses, "val_accuracy": accuracy}


if __name__ == "__main__":
    print(train()["val_accuracy"])
