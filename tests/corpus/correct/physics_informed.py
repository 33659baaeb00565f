"""A physics-informed network for u'' = -u on [0, pi] with u(0) = 0, u'(0) = 1: derivatives of
the output with respect to the input through torch.autograd.grad."""

import math

import torch
from torch import nn


def derivative(y, x):
    return torch.autograd.grad(y, x, torch.ones_like(y), create_graph=True)[0]


if __name__ == "__main__":
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    x0 = torch.zeros(1, 1, requires_grad=True)
    for _step in range(60):
        x = (torch.rand(64, 1) * math.pi).requires_grad_(True)
        u = net(x)
        residual = derivative(derivative(u, x), x) + u
        u0 = net(x0)
        loss = residual.pow(2).mean() + u0.pow(2).sum() + (derivative(u0, x0) - 1).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        grid = torch.linspace(0, math.pi, 50).unsqueeze(1)
        print(loss.item(), (net(grid) - torch.sin(grid)).abs().max().item())
