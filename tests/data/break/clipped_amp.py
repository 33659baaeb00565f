"""A correct loop in the style of larger projects: a config dict and a named learning rate,
a train_one_epoch() helper, mixed precision with a GradScaler (unscale_ before clipping), and
an epoch scheduler stepped after the helper. The break operators' tests turn it into broken
versions."""

import torch
from torch import nn

import kata_fixtures as fixtures

LR = 3e-3
CONFIG = {"lr": LR, "epochs": 4, "max_grad_norm": 1.0}


def train_one_epoch(model, loader, optimizer, scaler, config):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), config["max_grad_norm"])
        scaler.step(optimizer)
        scaler.update()
    return loss.item()


def train(seed=0, device="cpu"):
    torch.manual_seed(seed)
    data = fixtures.two_moons(n=256, seed=seed)
    loader = torch.utils.data.DataLoader(data.train_set(), batch_size=32, shuffle=True)
    model = fixtures.MLP(2, 2, hidden=(32,))
    optimizer = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    scaler = torch.amp.GradScaler("cpu")
    for _epoch in range(CONFIG["epochs"]):
        final_loss = train_one_epoch(model, loader, optimizer, scaler, CONFIG)
        scheduler.step()
    return {"final_loss": final_loss}


if __name__ == "__main__":
    print(train())
