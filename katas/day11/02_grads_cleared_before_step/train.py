"""Train a small CNN on the 8x8 digits with a minimal Trainer class.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


class Trainer:
    """Owns the model, its optimizer and the data loaders; one call to fit() trains."""

    def __init__(self, model, train_set, val_set, *, lr=0.05, batch_size=64):
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        self.train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
        self.val_loader = DataLoader(val_set, batch_size=256)
        self.history = {"train_loss": [], "val_accuracy": []}

    def training_step(self, images, labels):
        loss = F.cross_entropy(self.model(images), labels)
        loss.backward()
        self.optimizer.zero_grad()  # fresh gradients for the next batch
        self.optimizer.step()
        return loss.item()

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        correct = 0
        for images, labels in self.val_loader:
            correct += (self.model(images).argmax(1) == labels).sum().item()
        return correct / len(self.val_loader.dataset)

    def fit(self, epochs):
        for epoch in range(epochs):
            self.model.train()
            losses = [self.training_step(x, y) for x, y in self.train_loader]
            self.history["train_loss"].append(sum(losses) / len(losses))
            self.history["val_accuracy"].append(self.validate())
            print(
                f"epoch {epoch + 1}: loss {self.history['train_loss'][-1]:.3f}, "
                f"val accuracy {self.history['val_accuracy'][-1]:.1%}"
            )
        return self.history


def train(seed: int = 0, epochs: int = 3) -> dict:
    torch.manual_seed(seed)
    data = fixtures.digits(seed=seed)
    model = fixtures.SmallCNN(in_channels=1, classes=10, width=8)
    trainer = Trainer(model, data.train_set(), data.val_set())
    history = trainer.fit(epochs)
    return {"model": model, **history}


if __name__ == "__main__":
    train()
