# expect: softmax-before-cross-entropy
"""NLLLoss fed the raw scores of the last Linear layer (the log_softmax was forgotten)."""

import torch
from torch import nn

import kata_fixtures as fixtures


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.conv(x), 1))


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits()
    model = Net()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    criterion = nn.NLLLoss()
    model.train()
    for i in range(0, 320, 32):
        optimizer.zero_grad()
        output = model(data.x_train[i : i + 32])
        loss = criterion(output, data.y_train[i : i + 32])
        loss.backward()
        optimizer.step()
    print(loss.item())
