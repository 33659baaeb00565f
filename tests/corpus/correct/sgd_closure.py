"""SGD driven through step(closure), as some codebases write it for every optimizer."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def make_closure(model, optimizer, x, y):
    def closure():
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    return closure


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, nesterov=True)
    for epoch in range(5):
        for i in range(0, len(data.x_train), 64):
            loss = optimizer.step(
                make_closure(model, optimizer, data.x_train[i : i + 64], data.y_train[i : i + 64])
            )
        print(epoch, loss.item())
