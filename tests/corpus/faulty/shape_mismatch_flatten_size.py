# expect: shape-mismatch
"""A CNN whose first Linear layer was sized for 28x28 images, fed 8x8 digits."""

import torch
from torch import nn

import kata_fixtures as fixtures


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits()
    model = ConvNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for i in range(0, 256, 64):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(
            model(data.x_train[i : i + 64]), data.y_train[i : i + 64]
        )
        loss.backward()
        optimizer.step()
