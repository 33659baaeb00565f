"""Clearing gradients by hand: p.grad = None for every parameter, before backward."""

import torch
from torch import nn

import kata_fixtures as fixtures


def clear_grads(module: nn.Module) -> None:
    for p in module.parameters():
        p.grad = None


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = fixtures.MLP(64, 10, hidden=(32,))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(3):
        for i in range(0, 512, 64):
            clear_grads(model)
            loss = loss_fn(model(data.x_train[i : i + 64]), data.y_train[i : i + 64])
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
