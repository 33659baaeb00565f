# expect: non-finite-loss
"""Features standardised with their standard deviation, one of which is a constant column."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    x = torch.cat([data.x_train, torch.ones(len(data.x_train), 1)], dim=1)  # a bias column
    x = (x - x.mean(0)) / x.std(0)
    model = fixtures.MLP(9, 1, hidden=(16,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(3):
        for i in range(0, len(x), 64):
            optimizer.zero_grad()
            loss = F.mse_loss(model(x[i : i + 64]), data.y_train[i : i + 64])
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
