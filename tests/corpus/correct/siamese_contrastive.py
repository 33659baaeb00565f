"""A siamese encoder trained with a contrastive loss: two forwards of one network per step."""

import torch
import torch.nn.functional as F
from torch import nn

import kata_fixtures as fixtures


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 8)
        )

    def forward(self, x):
        return F.normalize(self.net(x), dim=1)


def contrastive_loss(a, b, same, margin=0.5):
    d = (a - b).pow(2).sum(1).sqrt()
    return (same * d.pow(2) + (1 - same) * F.relu(margin - d).pow(2)).mean()


def pairs(x, y, n, generator):
    i = torch.randint(0, len(x), (n,), generator=generator)
    j = torch.randint(0, len(x), (n,), generator=generator)
    return x[i], x[j], (y[i] == y[j]).float()


if __name__ == "__main__":
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    data = fixtures.digits(flat=True)
    encoder = Encoder()
    optimizer = torch.optim.Adam(encoder.parameters(), lr=3e-3)
    for step in range(40):
        encoder.train()
        left, right, same = pairs(data.x_train, data.y_train, 64, g)
        z1 = encoder(left)
        z2 = encoder(right)
        loss = contrastive_loss(z1, z2, same)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 9:
            encoder.eval()
            with torch.no_grad():
                a, b, s = pairs(data.x_val, data.y_val, 128, g)
                print(step, contrastive_loss(encoder(a), encoder(b), s).item())
