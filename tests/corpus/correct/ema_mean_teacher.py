"""Mean teacher: an EMA copy updated with lerp_ under no_grad, used to evaluate."""

import copy

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


@torch.no_grad()
def ema_update(ema_model, model, decay=0.99):
    for ema_p, p in zip(ema_model.parameters(), model.parameters(), strict=True):
        ema_p.lerp_(p, 1 - decay)
    for ema_b, b in zip(ema_model.buffers(), model.buffers(), strict=True):
        ema_b.copy_(b)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = fixtures.MLP(8, 1, hidden=(32,), dropout=0.1, batch_norm=True)
    ema = copy.deepcopy(model)
    ema.requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    for epoch in range(4):
        model.train()
        for i in range(0, len(data.x_train), 32):
            x, y = data.x_train[i : i + 32], data.y_train[i : i + 32]
            loss = F.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            ema_update(ema, model)
        ema.eval()
        with torch.no_grad():
            val = F.mse_loss(ema(data.x_val), data.y_val).item()
        print(f"epoch {epoch}: ema val mse {val:.3f}")
