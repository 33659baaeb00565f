"""A tiny GAN on 2-D points: a discriminator step on fake.detach(), then a generator step
that reuses the same generator forward."""

import torch
from torch import nn

LATENT = 4


def real_batch(n):
    angle = torch.rand(n) * 6.2832
    return torch.stack([angle.cos(), angle.sin()], dim=1) + 0.05 * torch.randn(n, 2)


if __name__ == "__main__":
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(LATENT, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2))
    D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(32, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()

    for step in range(60):
        real = real_batch(64)
        z = torch.randn(64, LATENT)
        fake = G(z)

        # discriminator: real vs. fake, no gradient into G
        opt_d.zero_grad()
        d_loss = bce(D(real), torch.ones(64, 1)) + bce(D(fake.detach()), torch.zeros(64, 1))
        d_loss.backward()
        opt_d.step()

        # generator: fool the discriminator, reusing this step's fake batch
        opt_g.zero_grad()
        g_loss = bce(D(fake), torch.ones(64, 1))
        g_loss.backward()
        opt_g.step()

        if step % 20 == 0:
            print(step, d_loss.item(), g_loss.item())

    G.eval()
    with torch.no_grad():
        samples = G(torch.randn(256, LATENT))
    print("mean radius", samples.norm(dim=1).mean().item())
