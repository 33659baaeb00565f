# expect: non-finite-loss
"""Linear regression on raw, unscaled features with a learning rate that was fine on scaled
ones: the loss explodes to inf and then NaN."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    x = data.x_train * 50 + 300  # e.g. square metres, never standardised
    model = nn.Linear(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.MSELoss()
    for epoch in range(20):
        optimizer.zero_grad()
        loss = loss_fn(model(x), data.y_train)
        loss.backward()
        optimizer.step()
        print(epoch, loss.item())
