"""A notebook-style script: the model's output shape is checked on a dummy batch right after
building it, then the model trains and is evaluated properly."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.tiny_images(n=256)
    model = fixtures.SmallCNN(in_channels=3, classes=4, width=8)
    print(model(torch.zeros(2, 3, 8, 8)).shape)  # expect (2, 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(2):
        model.train()
        for x, y in DataLoader(data.train_set(), batch_size=32, shuffle=True):
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            print(epoch, (model(data.x_val).argmax(1) == data.y_val).float().mean().item())
