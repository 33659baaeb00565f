# expect: params-not-updating
"""Fine-tuning where the new classification head is attached after the optimizer was built."""

import torch
from torch import nn

import kata_fixtures as fixtures


class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(64, 32), nn.ReLU())
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        return self.fc(self.features(x))


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    # new task: only the even/odd question
    model.fc = nn.Linear(32, 2)
    target = data.y_train % 2
    for epoch in range(3):
        for i in range(0, 512, 64):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(data.x_train[i : i + 64]), target[i : i + 64])
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
