# expect: shape-mismatch
"""forward() flattens with the batch size hard-coded; the last batch of the epoch is smaller."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

BATCH_SIZE = 64


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        x = x.view(BATCH_SIZE, -1)
        return self.fc(x)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits()
    loader = DataLoader(data.train_set(), batch_size=BATCH_SIZE, shuffle=True)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
