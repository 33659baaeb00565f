# expect: grads-cleared-before-step
"""An update by hand where the line that clears the gradient moved above the line that
uses it: each parameter's gradient is zeroed, then the parameter "moves" by zero."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    lr = 0.05
    for epoch in range(10):
        for i in range(0, len(data.x_train), 64):
            x, y = data.x_train[i : i + 64], data.y_train[i : i + 64]
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p.grad.zero_()
                    p.sub_(lr * p.grad)
        print(epoch, loss.item())
