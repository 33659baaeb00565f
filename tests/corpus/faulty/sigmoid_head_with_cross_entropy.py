# expect: softmax-before-cross-entropy
"""A classifier whose forward() ends in torch.sigmoid, trained with nn.CrossEntropyLoss."""

import torch
from torch import nn

import kata_fixtures as fixtures


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 32)
        self.out = nn.Linear(32, 10)

    def forward(self, x):
        return torch.sigmoid(self.out(torch.relu(self.hidden(x))))


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(3):
        for i in range(0, len(data.x_train), 64):
            optimizer.zero_grad()
            loss = criterion(model(data.x_train[i : i + 64]), data.y_train[i : i + 64])
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
