# expect: adam-weight-decay
"""NAdam with weight decay, passed through a small make_optimizer() factory."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def make_optimizer(model, lr=2e-3, weight_decay=5e-4):
    return torch.optim.NAdam(model.parameters(), lr=lr, weight_decay=weight_decay)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = fixtures.MLP(8, 1, hidden=(32,))
    optimizer = make_optimizer(model)
    for _epoch in range(3):
        for i in range(0, len(data.x_train), 32):
            optimizer.zero_grad()
            F.mse_loss(model(data.x_train[i : i + 32]), data.y_train[i : i + 32]).backward()
            optimizer.step()
