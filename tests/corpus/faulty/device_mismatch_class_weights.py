# expect: device-mismatch
# corpus: accelerator
"""Class weights for an imbalanced data set, built on the host and given to CrossEntropyLoss."""

import torch
from torch import nn

import kata_fixtures as fixtures

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    counts = torch.bincount(data.y_train, minlength=10).float()
    criterion = nn.CrossEntropyLoss(weight=counts.sum() / (10 * counts))
    model = fixtures.MLP(64, 10, hidden=(32,)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for i in range(0, 256, 64):
        x = data.x_train[i : i + 64].to(device)
        y = data.y_train[i : i + 64].to(device)
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
