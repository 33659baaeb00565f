"""Fine-tuning the head by hand: the body is frozen with requires_grad_(False), so backward()
gives it no gradient, and the update written by hand moves the head alone."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(seed=0)
    body = nn.Sequential(nn.Linear(2, 32), nn.Tanh())
    head = nn.Linear(32, 2)
    body.requires_grad_(False)
    model = nn.Sequential(body, head)
    for epoch in range(5):
        for i in range(0, len(data.x_train), 32):
            loss = nn.functional.cross_entropy(
                model(data.x_train[i : i + 32]), data.y_train[i : i + 32]
            )
            loss.backward()
            with torch.no_grad():
                for p in head.parameters():
                    p.data.add_(p.grad, alpha=-0.1)
                    p.grad = None
        print(epoch, loss.item())
