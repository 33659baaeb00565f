"""float16 autocast with a GradScaler whose first scale is too high: the first steps overflow
and the scaler skips them (optimizer.step() is not called), while the per-batch OneCycleLR
keeps stepping, as the AMP recipe writes it."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    model = fixtures.MLP(2, 2, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.2, total_steps=40)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24)
    for step in range(40):
        i = (step * 32) % len(data.x_train)
        x, y = data.x_train[i : i + 32], data.y_train[i : i + 32]
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
    print(scaler.get_scale(), loss.item())
