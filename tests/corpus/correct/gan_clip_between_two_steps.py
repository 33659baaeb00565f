"""A GAN whose discriminator step comes first and whose generator gradients are clipped
after it, before the generator's own step: each clip precedes the step that uses it."""

import torch
from torch import nn

if __name__ == "__main__":
    torch.manual_seed(0)
    real = torch.randn(512, 2) * 0.5 + torch.tensor([2.0, -1.0])
    G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    for step in range(60):
        batch = real[(step * 32) % 512 :][:32]
        fake = G(torch.randn(32, 4))
        opt_d.zero_grad()
        d_loss = bce(D(batch), torch.ones(32, 1)) + bce(D(fake.detach()), torch.zeros(32, 1))
        d_loss.backward()
        nn.utils.clip_grad_norm_(D.parameters(), 1.0)
        opt_d.step()
        opt_g.zero_grad()
        g_loss = bce(D(fake), torch.ones(32, 1))
        g_loss.backward()
        nn.utils.clip_grad_norm_(G.parameters(), 1.0)
        opt_g.step()
    print(d_loss.item(), g_loss.item())
