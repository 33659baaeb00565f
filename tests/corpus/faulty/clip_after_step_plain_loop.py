# expect: clip-after-step
"""A CNN on the digits with gradient clipping placed after optimizer.step(): the update has
already been applied unclipped, and zero_grad() throws the clipped gradients away."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits()
    loader = DataLoader(torch.utils.data.Subset(data.train_set(), range(320)), batch_size=32)
    model = fixtures.SmallCNN(width=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(2):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        print(epoch, loss.item())
