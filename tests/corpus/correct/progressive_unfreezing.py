"""Fine-tuning in stages: first the head alone, then the backbone is unfrozen and added to the
optimizer as a param group with a smaller learning rate."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    backbone = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
    head = nn.Linear(32, 10)
    model = nn.Sequential(backbone, head)
    backbone.requires_grad_(False)
    optimizer = torch.optim.AdamW([{"params": head.parameters(), "lr": 1e-2}])
    criterion = nn.CrossEntropyLoss()
    for epoch in range(4):
        if epoch == 2:
            backbone.requires_grad_(True)
            optimizer.add_param_group({"params": backbone.parameters(), "lr": 1e-3})
        model.train()
        for i in range(0, 640, 64):
            optimizer.zero_grad()
            loss = criterion(model(data.x_train[i : i + 64]), data.y_train[i : i + 64])
            loss.backward()
            optimizer.step()
        print(epoch, len(optimizer.param_groups), loss.item())
