# expect: scheduler-per-batch
"""A Trainer whose step() helper steps the StepLR (written in epochs) after every batch."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


class Trainer:
    def __init__(self, model, epochs):
        self.model = model
        self.epochs = epochs
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        # decay by 10x every 2 epochs
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=2, gamma=0.1)
        self.criterion = nn.CrossEntropyLoss()

    def step(self, x, y):
        self.optimizer.zero_grad()
        loss = self.criterion(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return loss.item()

    def fit(self, loader):
        for epoch in range(self.epochs):
            self.model.train()
            for x, y in loader:
                loss = self.step(x, y)
            print(epoch, loss, self.scheduler.get_last_lr())


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=320)
    Trainer(fixtures.MLP(2, 2, hidden=(32,)), epochs=6).fit(
        DataLoader(data.train_set(), batch_size=16, shuffle=True)
    )
