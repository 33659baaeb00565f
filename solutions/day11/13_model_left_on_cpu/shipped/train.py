"""A regression MLP trained with AdamW, with every batch sent to the accelerator.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 12
BATCH_SIZE = 64
LR = 1e-2


def to_device(batch, device):
    """Move every tensor of a batch to the device."""
    return [t.to(device, non_blocking=True) for t in batch]


def train_step(model, optimizer, batch) -> float:
    x, y = batch
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def validation_mse(model, x, y) -> float:
    model.eval()
    return F.mse_loss(model(x), y).item()


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = fixtures.regression(seed=seed)
    loader = DataLoader(data.train_set(), batch_size=BATCH_SIZE, shuffle=True)
    x_val, y_val = to_device((data.x_val, data.y_val), device)

    model = fixtures.MLP(8, 1, hidden=(32, 32))
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)

    history = []
    for epoch in range(EPOCHS):
        model.train()
        losses = [train_step(model, optimizer, to_device(batch, device)) for batch in loader]
        history.append(validation_mse(model, x_val, y_val))
        print(f"epoch {epoch + 1}: train mse {sum(losses) / len(losses):.4f}, val mse {history[-1]:.4f}")

    return {"model": model, "optimizer": optimizer, "val_mse": history}


if __name__ == "__main__":
    train()
