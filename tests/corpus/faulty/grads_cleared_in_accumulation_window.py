# expect: grads-cleared-before-step
"""Gradient accumulation whose window ends by clearing the gradients before stepping."""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

ACCUMULATE = 4

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    loader = DataLoader(data.train_set(), batch_size=16, shuffle=True)
    model = fixtures.MLP(8, 1, hidden=(32,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for epoch in range(2):
        for step, (x, y) in enumerate(loader):
            loss = F.mse_loss(model(x), y) / ACCUMULATE
            loss.backward()
            if (step + 1) % ACCUMULATE == 0:
                optimizer.zero_grad()
                optimizer.step()
        print(epoch, loss.item())
