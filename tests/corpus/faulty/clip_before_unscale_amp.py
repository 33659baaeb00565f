# expect: clip-before-unscale
"""Mixed precision with a GradScaler, clipping the gradients straight after backward(): they
are still multiplied by the loss scale (65536 at first), so max_norm=1.0 clips them to a
65536th of what was meant."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    model = fixtures.MLP(2, 2, hidden=(32,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu")
    criterion = nn.CrossEntropyLoss()
    for epoch in range(3):
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = criterion(model(x), y)
            scaler.scale(loss).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
        print(epoch, loss.item(), scaler.get_scale())
