# expect: train-mode-in-eval
"""A custom block calls F.dropout(x, p) without training=self.training."""

import torch
import torch.nn.functional as F
from torch import nn

import kata_fixtures as fixtures


class Classifier(nn.Module):
    def __init__(self, p=0.4):
        super().__init__()
        self.p = p
        self.hidden = nn.Linear(64, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.hidden(x))
        x = F.dropout(x, self.p)
        return self.out(x)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(3):
        model.train()
        for i in range(0, len(data.x_train), 128):
            optimizer.zero_grad()
            F.cross_entropy(model(data.x_train[i : i + 128]), data.y_train[i : i + 128]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            acc = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
        print(epoch, acc)
