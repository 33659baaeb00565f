# expect: eval-mode-in-training
"""A model with a hand-written dropout (a Bernoulli mask when self.training) whose evaluate()
helper switches it to eval mode; the training loop never switches it back."""

import torch
from torch import nn

import kata_fixtures as fixtures


class MyDropout(nn.Module):
    def __init__(self, p=0.3):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        mask = (torch.rand_like(x) > self.p).float()
        return x * mask / (1 - self.p)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), MyDropout(0.3))
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        return self.head(self.body(x))


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for epoch in range(3):
        for i in range(0, 512, 64):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(
                model(data.x_train[i : i + 64]), data.y_train[i : i + 64]
            )
            loss.backward()
            optimizer.step()
        print(epoch, loss.item(), evaluate(model, data.x_val, data.y_val))
