"""A small regression network trained with SGD.

lr=0.3 was tuned for plain SGD, as large as it stays stable. Momentum 0.9 was then added to
smooth the noisy loss curve, with the tuned learning rate kept.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn

import kata_fixtures as fixtures

LR = 0.3  # tuned for plain SGD
MOMENTUM = 0.9
EPOCHS = 20


def make_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)


def train(seed=0, epochs=EPOCHS):
    torch.manual_seed(seed)
    data = fixtures.regression(seed=seed)
    model = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 1))
    optimizer = make_optimizer(model)
    loss_fn = nn.MSELoss()

    val_losses = []
    for _ in range(epochs):
        model.train()
        for x, y in zip(data.x_train.split(32), data.y_train.split(32), strict=True):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_losses.append(loss_fn(model(data.x_val), data.y_val).item())
    return {"model": model, "optimizer": optimizer, "val_losses": val_losses}


if __name__ == "__main__":
    losses = train()["val_losses"]
    print(f"validation loss: first epoch {losses[0]:.3f}, last epoch {losses[-1]:.3f}")
