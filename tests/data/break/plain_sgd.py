"""The smallest correct loop: plain SGD on a regression, no scheduler, no checkpoint."""

import torch
from torch import nn

import kata_fixtures as fixtures


def train(seed=0, steps=40):
    torch.manual_seed(seed)
    data = fixtures.regression(n=128, features=8, seed=seed)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.MSELoss()
    for _step in range(steps):
        model.zero_grad()
        prediction = model(data.x_train)
        loss = loss_fn(prediction, data.y_train)
        loss.backward()
        optimizer.step()
    return {"final_loss": loss.item()}


if __name__ == "__main__":
    print(train())
