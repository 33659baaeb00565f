"""CosineAnnealingLR(T_max=epochs) stepped once per epoch, after the batch loop, with a
validation DataLoader iterated every epoch too."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 6

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    train_loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    val_loader = DataLoader(data.val_set(), batch_size=64)
    model = fixtures.MLP(2, 2, hidden=(16,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    for epoch in range(EPOCHS):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            correct = sum((model(x).argmax(1) == y).sum().item() for x, y in val_loader)
        print(epoch, correct, scheduler.get_last_lr())
