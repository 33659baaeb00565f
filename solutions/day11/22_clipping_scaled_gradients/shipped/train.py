"""Digits with an MLP, in mixed precision with loss scaling and gradient clipping.

This is the CPU copy of a GPU loop: autocast runs the forward pass in bfloat16 (float16 on the
GPU) and a GradScaler multiplies the loss before backward() so that small gradients do not
underflow. The gradients are clipped at norm 0.5 to keep the updates bounded.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn

import kata_fixtures as fixtures

LR = 0.1
MAX_NORM = 0.5
EPOCHS = 3


def train(seed=0, epochs=EPOCHS):
    torch.manual_seed(seed)
    data = fixtures.digits(flat=True, seed=seed)
    model = fixtures.MLP(64, 10, hidden=(128,))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu")
    loss_fn = nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(seed)

    val_accuracies = []
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(data.x_train), generator=order).split(64):
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = loss_fn(model(data.x_train[idx]), data.y_train[idx])
            scaler.scale(loss).backward()
            nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
            scaler.step(optimizer)
            scaler.update()
        model.eval()
        with torch.no_grad():
            predicted = model(data.x_val).argmax(1)
        val_accuracies.append((predicted == data.y_val).float().mean().item())
    return {"model": model, "scaler": scaler, "val_accuracies": val_accuracies}


if __name__ == "__main__":
    accuracies = train()["val_accuracies"]
    print("validation accuracy per epoch: " + ", ".join(f"{a:.1%}" for a in accuracies))
