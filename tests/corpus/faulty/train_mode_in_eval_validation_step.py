# expect: train-mode-in-eval
"""A Lightning-like loop whose validation loop never switches the BatchNorm CNN to eval mode."""

import torch
import torch.nn.functional as F
from torch import nn

import kata_fixtures as fixtures


class Module(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = fixtures.SmallCNN(in_channels=3, classes=4, width=8, dropout=0.0)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch):
        x, y = batch
        return (self(x).argmax(1) == y).float().mean()


def fit(module, train_batches, val_batches, epochs=2):
    optimizer = torch.optim.Adam(module.parameters(), lr=3e-3)
    for epoch in range(epochs):
        module.train()
        for batch in train_batches:
            optimizer.zero_grad()
            module.training_step(batch).backward()
            optimizer.step()
        with torch.no_grad():
            scores = [module.validation_step(batch) for batch in val_batches]
        print(epoch, torch.stack(scores).mean().item())


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.tiny_images(n=256)
    train_batches = list(zip(data.x_train.split(32), data.y_train.split(32), strict=True))
    val_batches = list(zip(data.x_val.split(32), data.y_val.split(32), strict=True))
    fit(Module(), train_batches, val_batches)
