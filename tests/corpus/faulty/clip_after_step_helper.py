# expect: clip-after-step
"""A language-model-style training helper that steps, then clips by value "for stability",
imported as a bare name the way many scripts do."""

import torch
from torch import nn
from torch.nn.utils import clip_grad_value_

import kata_fixtures as fixtures


def training_step(model, optimizer, batch, clip=0.5):
    x, y = batch
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    clip_grad_value_(model.parameters(), clip)
    return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    model = fixtures.MLP(2, 2, hidden=(32, 32))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(3):
        losses = [
            training_step(model, optimizer, (data.x_train[i : i + 32], data.y_train[i : i + 32]))
            for i in range(0, len(data.x_train), 32)
        ]
        print(epoch, sum(losses) / len(losses))
