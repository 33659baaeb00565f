# expect: softmax-before-cross-entropy
"""The classifier ends with nn.Softmax (handy for predictions) and trains with CrossEntropyLoss."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10), nn.Softmax(dim=1))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(2):
        for x, y in DataLoader(data.train_set(), batch_size=64, shuffle=True):
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        with torch.no_grad():
            print(epoch, (model(data.x_val).argmax(1) == data.y_val).float().mean().item())
