# expect: no-grad-training
"""A GAN that freezes its discriminator for the generator's step (as CycleGAN's
set_requires_grad does) and forgets to unfreeze it for the discriminator's own step."""

import torch
from torch import nn


def set_requires_grad(net, flag):
    for p in net.parameters():
        p.requires_grad = flag


if __name__ == "__main__":
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
    D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    criterion = nn.BCEWithLogitsLoss()
    for _ in range(200):
        real = torch.randn(64, 2) * 0.5 + torch.tensor([2.0, -1.0])
        fake = G(torch.randn(64, 8))

        set_requires_grad(D, False)  # D needs no gradients for G's step
        opt_G.zero_grad()
        criterion(D(fake), torch.ones(64, 1)).backward()
        opt_G.step()

        opt_D.zero_grad()  # but D is never unfrozen
        loss_real = criterion(D(real), torch.ones(64, 1))
        loss_fake = criterion(D(fake.detach()), torch.zeros(64, 1))
        loss_D = (loss_real + loss_fake) / 2
        loss_D.backward()
        opt_D.step()
