# expect: adam-weight-decay
"""The optimizer comes from a config dict: Adam with weight decay."""

import torch
from torch import nn

import kata_fixtures as fixtures

CONFIG = {
    "optimizer": {"name": "Adam", "lr": 1e-3, "weight_decay": 1e-2},
    "epochs": 3,
    "batch_size": 64,
}


def build_optimizer(params, cfg):
    cfg = dict(cfg)
    cls = getattr(torch.optim, cfg.pop("name"))
    return cls(params, **cfg)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = fixtures.MLP(64, 10, hidden=(32,))
    optimizer = build_optimizer(model.parameters(), CONFIG["optimizer"])
    criterion = nn.CrossEntropyLoss()
    for epoch in range(CONFIG["epochs"]):
        for i in range(0, 512, CONFIG["batch_size"]):
            optimizer.zero_grad()
            loss = criterion(model(data.x_train[i : i + 64]), data.y_train[i : i + 64])
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
