# expect: grads-cleared-before-step
"""A gradient-norm logger that 'tidies up' by clearing the gradients it has read."""

import torch
from torch import nn

import kata_fixtures as fixtures

history = []


def log_gradient_norms(model: nn.Module) -> None:
    norms = [p.grad.norm().item() for p in model.parameters() if p.grad is not None]
    history.append(sum(n * n for n in norms) ** 0.5)
    model.zero_grad()  # done with the gradients


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits()
    model = fixtures.SmallCNN(width=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    for i in range(0, 320, 32):
        optimizer.zero_grad()
        loss = criterion(model(data.x_train[i : i + 32]), data.y_train[i : i + 32])
        loss.backward()
        log_gradient_norms(model)
        optimizer.step()
    print(loss.item(), history[-1])
