"""Evaluation under torch.inference_mode(), a BatchNorm CNN."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


def evaluate(model, loader):
    model.eval()
    correct = 0
    with torch.inference_mode():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
    return correct / len(loader.dataset)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.tiny_images(n=256)
    train_loader = DataLoader(data.train_set(), batch_size=32, shuffle=True, drop_last=True)
    val_loader = DataLoader(data.val_set(), batch_size=64)
    model = fixtures.SmallCNN(in_channels=3, classes=4, width=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    for epoch in range(3):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        print(epoch, evaluate(model, val_loader))
