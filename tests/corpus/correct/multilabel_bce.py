"""Multi-label classification: BCEWithLogitsLoss with a pos_weight, a 0/1 target per label."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)

    def labels(y):
        """Three yes/no attributes of a digit: even, greater than 4, has a loop."""
        return torch.stack([y % 2 == 0, y > 4, torch.isin(y, torch.tensor([0, 6, 8, 9]))], 1)

    targets = labels(data.y_train).float()
    model = fixtures.MLP(64, 3, hidden=(32,), batch_norm=True)
    criterion = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 1.0, 1.5]))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(4):
        model.train()
        for i in range(0, len(targets), 64):
            optimizer.zero_grad()
            loss = criterion(model(data.x_train[i : i + 64]), targets[i : i + 64])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            pred = torch.sigmoid(model(data.x_val)) > 0.5
        print(epoch, (pred == labels(data.y_val)).float().mean().item())
