"""WGAN-GP: several critic steps per generator step, the fakes for the critic made under
no_grad, and a gradient penalty computed with torch.autograd.grad(create_graph=True)."""

import torch
from torch import nn


def gradient_penalty(critic, real, fake):
    alpha = torch.rand(real.size(0), 1)
    interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(interp)
    (grads,) = torch.autograd.grad(scores.sum(), interp, create_graph=True)
    return ((grads.norm(2, dim=1) - 1) ** 2).mean()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = torch.randn(512, 2) * torch.tensor([0.5, 2.0]) + 1.0
    G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    critic = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.9))
    opt_c = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.0, 0.9))
    for _it in range(20):
        for _ in range(5):
            real = data[torch.randint(0, 512, (64,))]
            with torch.no_grad():
                fake = G(torch.randn(64, 4))
            loss_c = critic(fake).mean() - critic(real).mean()
            loss_c = loss_c + 10 * gradient_penalty(critic, real, fake)
            opt_c.zero_grad()
            loss_c.backward()
            opt_c.step()
        loss_g = -critic(G(torch.randn(64, 4))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    print(loss_c.item(), loss_g.item())
