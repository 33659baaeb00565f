"""The DCGAN example's step: netD.zero_grad(), a backward for the real and one for the fake
batch, then the generator step through the discriminator; spectral norm in D, BatchNorm in G."""

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

nz = 8


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(nz, 32), nn.BatchNorm1d(32), nn.ReLU(True), nn.Linear(32, 16), nn.Tanh()
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            spectral_norm(nn.Linear(16, 32)), nn.LeakyReLU(0.2, inplace=True), nn.Linear(32, 1)
        )

    def forward(self, input):
        return self.main(input).view(-1)


if __name__ == "__main__":
    torch.manual_seed(0)
    real_data = torch.tanh(torch.randn(512, 16) @ torch.randn(16, 16) * 0.3)
    netG, netD = Generator(), Discriminator()
    criterion = nn.BCEWithLogitsLoss()
    fixed_noise = torch.randn(16, nz)
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
    for epoch in range(2):
        for i in range(0, len(real_data), 64):
            real = real_data[i : i + 64]
            b_size = real.size(0)
            # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            label = torch.full((b_size,), 1.0)
            errD_real = criterion(netD(real), label)
            errD_real.backward()
            noise = torch.randn(b_size, nz)
            fake = netG(noise)
            label.fill_(0.0)
            errD_fake = criterion(netD(fake.detach()), label)
            errD_fake.backward()
            optimizerD.step()
            # (2) Update G: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(1.0)
            errG = criterion(netD(fake), label)
            errG.backward()
            optimizerG.step()
        netG.eval()
        with torch.no_grad():
            samples = netG(fixed_noise)
        netG.train()
        print(epoch, (errD_real + errD_fake).item(), errG.item(), samples.std().item())
