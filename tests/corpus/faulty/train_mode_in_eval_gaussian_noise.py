# expect: train-mode-in-eval
"""A denoising-style MLP with a GaussianNoise layer that adds noise only while training
(it reads self.training); the validation loop forgets model.eval(), so the scores are
computed on noisy activations."""

import torch
from torch import nn

import kata_fixtures as fixtures


class GaussianNoise(nn.Module):
    def __init__(self, sigma=0.5):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if self.training and self.sigma > 0:
            return x + torch.randn_like(x) * self.sigma
        return x


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), GaussianNoise(0.5), nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(3):
        model.train()
        for i in range(0, 512, 64):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(
                model(data.x_train[i : i + 64]), data.y_train[i : i + 64]
            )
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
        print(epoch, loss.item(), accuracy)
