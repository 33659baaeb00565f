"""Mixup with soft-label cross entropy, plus label smoothing for the plain batches."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


def mixup(x, y, classes, alpha=0.4):
    lam = torch.distributions.Beta(alpha, alpha).sample().item()
    perm = torch.randperm(x.size(0))
    y_soft = F.one_hot(y, classes).float()
    return lam * x + (1 - lam) * x[perm], lam * y_soft + (1 - lam) * y_soft[perm]


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.tiny_images(n=256)
    loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    model = fixtures.SmallCNN(in_channels=3, classes=4, width=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    smooth = nn.CrossEntropyLoss(label_smoothing=0.1)
    for epoch in range(3):
        model.train()
        for step, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            if step % 2 == 0:
                x_mix, y_mix = mixup(x, y, 4)
                loss = F.cross_entropy(model(x_mix), y_mix)  # class probabilities as targets
            else:
                loss = smooth(model(x), y)
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
