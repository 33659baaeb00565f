# expect: adam-weight-decay
"""No decay for biases and norms, decay for the weights: the usual grouping, but given to Adam."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = fixtures.MLP(64, 10, hidden=(32,), batch_norm=True)
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if name.endswith("bias") or param.ndim == 1 else decay).append(param)
    optimizer = torch.optim.Adam(
        [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
        lr=2e-3,
    )
    criterion = nn.CrossEntropyLoss()
    for _epoch in range(3):
        model.train()
        for i in range(0, 512, 64):
            optimizer.zero_grad()
            criterion(model(data.x_train[i : i + 64]), data.y_train[i : i + 64]).backward()
            optimizer.step()
