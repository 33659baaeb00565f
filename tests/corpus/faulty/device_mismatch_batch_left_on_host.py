# expect: device-mismatch
# corpus: accelerator
"""The model goes to the GPU, the batches never do."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

device = "cuda" if torch.cuda.is_available() else "cpu"


def train_epoch(model, loader, optimizer, criterion):
    model.train()
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
    return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    model = fixtures.MLP(2, 2, hidden=(16,)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    for epoch in range(2):
        print(epoch, train_epoch(model, loader, optimizer, nn.CrossEntropyLoss()))
