"""Softmax regression with plain tensors as parameters (no nn.Module), given to an optimizer,
and the same model once more updated by hand in the older style."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    W = torch.zeros(2, 2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([W, b], lr=0.5)
    for _ in range(40):
        optimizer.zero_grad()
        loss = F.cross_entropy(data.x_train @ W + b, data.y_train)
        loss.backward()
        optimizer.step()
    print("optimizer", loss.item())

    W2 = torch.zeros(2, 2, requires_grad=True)
    for _ in range(40):
        loss = F.cross_entropy(data.x_train.mm(W2), data.y_train)
        loss.backward()
        W2.data -= 0.5 * W2.grad.data
        W2.grad.data.zero_()
    print("by hand", loss.item())
