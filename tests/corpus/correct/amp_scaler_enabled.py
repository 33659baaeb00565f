"""Mixed precision with the GradScaler enabled (it works on the CPU too), unscale_ before
clipping, and OneCycleLR stepped after scaler.step()."""

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
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=2e-2, total_steps=3 * len(loader)
    )
    scaler = torch.amp.GradScaler("cpu")
    criterion = nn.CrossEntropyLoss()
    for epoch in range(3):
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = criterion(model(x), y)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
        print(epoch, loss.item(), scaler.get_scale())
