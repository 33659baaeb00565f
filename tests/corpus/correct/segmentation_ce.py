"""Per-pixel classification: CrossEntropyLoss on (N, C, H, W) logits and (N, H, W) targets."""

import torch
from torch import nn


class TinySegNet(nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(),
        )
        self.classifier = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        return self.classifier(self.body(x))


def make_batch(n, size=12):
    """Images with a bright square (class 1) and a dark square (class 2) on noise (class 0)."""
    x = 0.1 * torch.randn(n, 1, size, size)
    mask = torch.zeros(n, size, size, dtype=torch.long)
    for k in range(n):
        r, c = torch.randint(0, size - 4, (2,)).tolist()
        x[k, 0, r : r + 4, c : c + 4] += 1.0
        mask[k, r : r + 4, c : c + 4] = 1
        r, c = torch.randint(0, size - 3, (2,)).tolist()
        x[k, 0, r : r + 3, c : c + 3] -= 1.0
        mask[k, r : r + 3, c : c + 3] = 2
    return x, mask


if __name__ == "__main__":
    torch.manual_seed(0)
    model = TinySegNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss(weight=torch.tensor([0.2, 1.0, 1.0]))
    for _step in range(30):
        model.train()
        x, mask = make_batch(8)
        optimizer.zero_grad()
        loss = criterion(model(x), mask)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        x, mask = make_batch(16)
        pixel_acc = (model(x).argmax(1) == mask).float().mean().item()
    print(loss.item(), pixel_acc)
