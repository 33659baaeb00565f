"""Custom mode-dependent layers used right: a GaussianNoise layer and a DropPath (stochastic
depth) block that read self.training, with model.train() / model.eval() around each phase; and
a layer that only carries the flag (it never reads it) evaluated in training mode under no_grad
for a feature dump."""

import torch
from torch import nn

import kata_fixtures as fixtures


class GaussianNoise(nn.Module):
    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        return x + torch.randn_like(x) * self.sigma if self.training else x


class DropPath(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = (torch.rand(x.shape[0], 1) > self.p).to(x.dtype)
        return x * keep / (1 - self.p)


class Residual(nn.Module):
    def __init__(self, width, p):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.drop_path = DropPath(p)

    def forward(self, x):
        return x + self.drop_path(torch.relu(self.fc(x)))


class Scale(nn.Module):
    """Carries the training flag like every module, and never reads it."""

    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = nn.Sequential(
        nn.Linear(64, 64),
        GaussianNoise(0.2),
        Residual(64, 0.2),
        Residual(64, 0.2),
        nn.Linear(64, 10),
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for epoch in range(3):
        model.train()
        for i in range(0, 512, 64):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(
                model(data.x_train[i : i + 64]), data.y_train[i : i + 64]
            )
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
        print(epoch, loss.item(), accuracy)
    features = nn.Sequential(nn.Linear(64, 8), Scale(2.0))
    with torch.no_grad():
        print(features(data.x_val).shape)
