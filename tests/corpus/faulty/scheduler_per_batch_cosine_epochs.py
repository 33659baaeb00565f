# expect: scheduler-per-batch
"""CosineAnnealingLR with T_max set to the number of epochs, stepped every batch."""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 5

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=320)
    loader = DataLoader(data.train_set(), batch_size=16, shuffle=True)
    model = fixtures.MLP(8, 1, hidden=(32,))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    for epoch in range(EPOCHS):
        for x, y in loader:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        print(epoch, scheduler.get_last_lr())
