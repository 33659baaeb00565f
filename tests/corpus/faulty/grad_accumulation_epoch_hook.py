# expect: grad-accumulation
"""A callback-style trainer that clears the gradients in on_epoch_start() only."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


class Trainer:
    def __init__(self, model, lr=0.05):
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        self.criterion = nn.CrossEntropyLoss()

    def on_epoch_start(self):
        self.model.train()
        self.optimizer.zero_grad()

    def training_step(self, batch):
        x, y = batch
        loss = self.criterion(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def fit(self, loader, epochs):
        for epoch in range(epochs):
            self.on_epoch_start()
            losses = [self.training_step(batch) for batch in loader]
            print(epoch, sum(losses) / len(losses))


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    trainer = Trainer(fixtures.MLP(2, 2, hidden=(16,)))
    trainer.fit(DataLoader(data.train_set(), batch_size=32, shuffle=True), epochs=3)
