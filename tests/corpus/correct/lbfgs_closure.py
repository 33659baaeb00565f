"""Full-batch logistic regression with L-BFGS and a closure."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    model = nn.Linear(2, 2)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=10, history_size=5)

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(data.x_train), data.y_train)
        loss.backward()
        return loss

    for it in range(5):
        loss = optimizer.step(closure)
        print(it, loss.item())

    with torch.no_grad():
        print("val acc", (model(data.x_val).argmax(1) == data.y_val).float().mean().item())
