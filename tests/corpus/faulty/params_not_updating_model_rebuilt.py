# expect: params-not-updating
"""The model is built again (to 'reset' it) after the optimizer was created over the first one."""

import torch
from torch import nn

import kata_fixtures as fixtures


def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))


if __name__ == "__main__":
    data = fixtures.two_moons(n=256)
    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss()
    for run in range(2):
        model = build_model()  # fresh weights for each run
        for i in range(0, len(data.x_train), 32):
            optimizer.zero_grad()
            loss = criterion(model(data.x_train[i : i + 32]), data.y_train[i : i + 32])
            loss.backward()
            optimizer.step()
        print(run, loss.item())
