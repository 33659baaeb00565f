# expect: eval-mode-in-training
"""Fine-tuning that calls model.eval() on the whole model 'to freeze BatchNorm', which also
switches off the dropout of the head that is being trained."""

import torch
from torch import nn

import kata_fixtures as fixtures


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(32, 4))

    def forward(self, x):
        return self.head(self.backbone(x))


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.tiny_images(n=256)
    model = Classifier()
    model.backbone.requires_grad_(False)
    optimizer = torch.optim.Adam(model.head.parameters(), lr=1e-2)
    model.eval()  # keep the pre-trained BatchNorm statistics
    for epoch in range(3):
        for i in range(0, len(data.x_train), 32):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(
                model(data.x_train[i : i + 32]), data.y_train[i : i + 32]
            )
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
