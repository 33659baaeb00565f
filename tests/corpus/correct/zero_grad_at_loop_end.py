"""zero_grad() at the end of each iteration, after the step."""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    model = fixtures.MLP(2, 2, hidden=(16, 16))
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-2)
    for epoch in range(4):
        for x, y in DataLoader(data.train_set(), batch_size=32, shuffle=True):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        print(epoch, loss.item())
