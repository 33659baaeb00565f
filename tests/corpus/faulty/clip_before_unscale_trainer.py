# expect: clip-before-unscale
"""A Trainer-like object with an AMP option: the scaler is used, but clipping reads the
gradients before unscale_, inside a method of its own."""

import torch
from torch import nn

import kata_fixtures as fixtures


class Trainer:
    def __init__(self, model, lr=1e-3, max_grad_norm=0.5, amp=True):
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.scaler = torch.amp.GradScaler("cpu", enabled=amp)
        self.max_grad_norm = max_grad_norm

    def clip(self):
        return torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)

    def step(self, x, y):
        self.optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=True):
            loss = nn.functional.mse_loss(self.model(x), y)
        self.scaler.scale(loss).backward()
        norm = self.clip()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.item(), norm.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    trainer = Trainer(nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1)))
    for epoch in range(3):
        for i in range(0, len(data.x_train), 32):
            loss, norm = trainer.step(data.x_train[i : i + 32], data.y_train[i : i + 32])
        print(epoch, loss, norm)
