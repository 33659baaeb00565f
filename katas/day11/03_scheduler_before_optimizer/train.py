"""Classify tiny bar images with a small conv net, SGD and a cosine learning-rate schedule.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 6
LR = 0.05


class BarNet(nn.Module):
    """Two 3x3 convolutions, global max pooling (is there a bar anywhere?), a linear classifier."""

    def __init__(self, channels=3, classes=4, width=16):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.fc(x.amax(dim=(2, 3)))


def train_one_epoch(model, loader, optimizer, loss_fn):
    model.train()
    total = 0.0
    for images, labels in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(images)
    return total / len(loader.dataset)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return correct / len(loader.dataset)


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.tiny_images(seed=seed)
    train_loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    val_loader = DataLoader(data.val_set(), batch_size=128)

    model = BarNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    loss_fn = nn.CrossEntropyLoss()

    history = {"train_loss": [], "val_accuracy": []}
    for epoch in range(EPOCHS):
        scheduler.step()
        lr = optimizer.param_groups[0]["lr"]
        history["train_loss"].append(train_one_epoch(model, train_loader, optimizer, loss_fn))
        history["val_accuracy"].append(evaluate(model, val_loader))
        print(
            f"epoch {epoch + 1}: lr {lr:.4f}, loss {history['train_loss'][-1]:.3f}, "
            f"val accuracy {history['val_accuracy'][-1]:.1%}"
        )
    return {"model": model, **history}


if __name__ == "__main__":
    train()
