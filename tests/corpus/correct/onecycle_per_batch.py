"""OneCycleLR, stepped after every batch as its documentation says."""

import torch
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 4

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=320)
    loader = DataLoader(data.train_set(), batch_size=16, shuffle=True)
    model = fixtures.MLP(2, 2, hidden=(32,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = OneCycleLR(optimizer, max_lr=0.2, epochs=EPOCHS, steps_per_epoch=len(loader))
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        print(epoch, scheduler.get_last_lr())
