"""Digits with an MLP: SGD with momentum, a linear warm-up into a cosine decay.

The schedule is written in optimizer steps (batches): WARMUP_STEPS of linear warm-up from
1% of the learning rate, then a cosine down to zero over the remaining steps.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

LR = 0.05
EPOCHS = 6
WARMUP_STEPS = 20


def make_schedule(optimizer, total_steps):
    warmup = LinearLR(optimizer, start_factor=0.01, total_iters=WARMUP_STEPS)
    cosine = CosineAnnealingLR(optimizer, T_max=total_steps - WARMUP_STEPS)
    return SequentialLR(optimizer, [warmup, cosine], milestones=[WARMUP_STEPS])


def train(seed=0, epochs=EPOCHS):
    torch.manual_seed(seed)
    data = fixtures.digits(flat=True, seed=seed)
    loader = DataLoader(data.train_set(), batch_size=64, shuffle=True)
    model = fixtures.MLP(64, 10, hidden=(128,))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    scheduler = make_schedule(optimizer, total_steps=epochs * len(loader))
    loss_fn = nn.CrossEntropyLoss()

    lrs, history = [], []
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            history.append((model(data.x_val).argmax(1) == data.y_val).float().mean().item())
    return {"model": model, "lrs": lrs, "val_accuracy": history, "steps_per_epoch": len(loader)}


if __name__ == "__main__":
    result = train()
    print(f"learning rate: peak {max(result['lrs']):.4f}, last {result['lrs'][-1]:.4f}")
    print(f"validation accuracy {result['val_accuracy'][-1]:.1%}")
