"""Gradient clipping between backward() and step(), with a gradient-norm log."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits()
    loader = DataLoader(torch.utils.data.Subset(data.train_set(), range(320)), batch_size=32)
    model = fixtures.SmallCNN(width=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    criterion = nn.CrossEntropyLoss()
    norms = []
    for epoch in range(2):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            norms.append(nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5).item())
            nn.utils.clip_grad_value_(model.parameters(), clip_value=1.0)
            optimizer.step()
        print(epoch, loss.item(), max(norms))
