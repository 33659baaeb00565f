"""A GradScaler that is disabled on the CPU (clipping scaled gradients would be a fault only
with it on), then an enabled one with unscale_ before clip_grad_value_."""

import torch
from torch import nn

import kata_fixtures as fixtures


def fit(model, scaler, data, epochs=2):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        for i in range(0, len(data.x_train), 32):
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=scaler.is_enabled()):
                out = model(data.x_train[i : i + 32])
                loss = nn.functional.cross_entropy(out, data.y_train[i : i + 32])
            scaler.scale(loss).backward()
            if scaler.is_enabled():
                scaler.unscale_(optimizer)
            nn.utils.clip_grad_value_(model.parameters(), 0.5)
            scaler.step(optimizer)
            scaler.update()
    return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    print(fit(fixtures.MLP(2, 2, hidden=(16,)), torch.amp.GradScaler("cpu", enabled=False), data))
    print(fit(fixtures.MLP(2, 2, hidden=(16,)), torch.amp.GradScaler("cpu"), data))
