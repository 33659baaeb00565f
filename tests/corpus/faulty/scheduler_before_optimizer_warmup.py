# expect: scheduler-before-optimizer
"""A per-batch warm-up whose scheduler.step() comes before optimizer.step() in each iteration."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def warmup(step, warmup_steps=20):
    return min(1.0, (step + 1) / warmup_steps)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    model = fixtures.MLP(2, 2, hidden=(32,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup)
    for epoch in range(3):
        for i in range(0, len(data.x_train), 16):
            loss = F.cross_entropy(model(data.x_train[i : i + 16]), data.y_train[i : i + 16])
            optimizer.zero_grad()
            loss.backward()
            scheduler.step()
            optimizer.step()
        print(epoch, loss.item())
