# expect: params-not-updating
"""Fine-tuning with the optimizer built before the new head replaces ``model.fc``: the head
is in no optimizer. The best weights are kept as clones and copied back with ``copy_`` at
the end, which moves the head once, to where it was: no update."""

import torch
from torch import nn

import kata_fixtures as fixtures


class Backbone(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        return self.fc(self.features(x))


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    y_train, y_val = data.y_train % 2, data.y_val % 2  # new task: even or odd
    model = Backbone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.fc = nn.Linear(model.fc.in_features, 2)
    best, best_acc = None, -1.0
    for epoch in range(3):
        model.train()
        for i in range(0, 512, 32):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(data.x_train[i : i + 32]), y_train[i : i + 32])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            acc = (model(data.x_val).argmax(1) == y_val).float().mean().item()
        if acc > best_acc:
            best_acc = acc
            best = {name: t.detach().clone() for name, t in model.state_dict().items()}
        print(epoch, acc)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(best[name])
