"""Digits with an MLP whose dropout layer is written by hand.

Run it: python train.py
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


class Dropout(nn.Module):
    """Zero each activation with probability ``p`` while training; do nothing in eval mode."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = (torch.rand_like(x) >= self.p).to(x.dtype)
        return x * keep

    def extra_repr(self):
        return f"p={self.p}"


def make_model(p=0.5):
    return nn.Sequential(
        nn.Linear(64, 256),
        nn.ReLU(),
        Dropout(p),
        nn.Linear(256, 10),
    )


def evaluate(model, x, y, loss_fn):
    model.eval()
    with torch.no_grad():
        logits = model(x)
        return loss_fn(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()


def train(seed=0, epochs=8):
    torch.manual_seed(seed)
    data = fixtures.digits(flat=True, seed=seed)
    loader = DataLoader(data.train_set(), batch_size=64, shuffle=True)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    val_loss, val_acc = evaluate(model, data.x_val, data.y_val, loss_fn)
    return {"model": model, "data": data, "val_loss": val_loss, "val_acc": val_acc}


if __name__ == "__main__":
    result = train()
    print(f"validation loss {result['val_loss']:.4f}, accuracy {result['val_acc']:.3f}")
