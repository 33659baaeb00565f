# expect: eval-mode-in-training
"""model.train() is called once before the epochs; the per-epoch validation leaves eval mode on."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    return (model(x).argmax(1) == y).float().mean().item()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.tiny_images(n=256)
    loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    model = fixtures.SmallCNN(in_channels=3, classes=4, width=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    model.train()
    for epoch in range(3):
        for x, y in loader:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        print(epoch, accuracy(model, data.x_val, data.y_val))
