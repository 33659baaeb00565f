# expect: shape-mismatch
"""A conv net whose forward() goes from the conv block to the Linear layer without flattening."""

import torch
import torch.nn.functional as F
from torch import nn

import kata_fixtures as fixtures


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        return self.fc1(x)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits()
    net = Net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    for i in range(0, 256, 32):
        optimizer.zero_grad()
        loss = criterion(net(data.x_train[i : i + 32]), data.y_train[i : i + 32])
        loss.backward()
        optimizer.step()
