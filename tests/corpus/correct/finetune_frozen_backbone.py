"""Fine-tuning: a frozen backbone whose BatchNorm stays in eval mode, and a new head."""

import torch
from torch import nn

import kata_fixtures as fixtures


class Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(16 * 4 * 4, classes))

    def forward(self, x):
        return self.head(self.backbone(x).flatten(1))


def make_backbone() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.tiny_images(n=256)
    backbone = make_backbone()
    # pretend pre-training happened: a few batches through the BatchNorm statistics
    with torch.no_grad():
        backbone(data.x_train[:128])

    model = Classifier(backbone, classes=4)
    for p in model.backbone.parameters():
        p.requires_grad = False
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9
    )
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(3):
        model.train()
        model.backbone.eval()  # keep the pre-trained BatchNorm statistics
        for i in range(0, len(data.x_train), 32):
            x, y = data.x_train[i : i + 32], data.y_train[i : i + 32]
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            acc = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
        print(epoch, acc)
