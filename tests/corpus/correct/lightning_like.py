"""A LightningModule-style model driven by a small hand-written Trainer."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


class LitClassifier(nn.Module):
    def __init__(self, lr: float = 1e-2) -> None:
        super().__init__()
        self.lr = lr
        self.net = fixtures.SmallCNN(width=4, dropout=0.2)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        return {"val_loss": F.cross_entropy(logits, y), "correct": (logits.argmax(1) == y).sum()}

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.lr)


class Trainer:
    def __init__(self, max_epochs: int = 2) -> None:
        self.max_epochs = max_epochs
        self.logged: list[dict] = []

    def fit(self, module, train_dataloaders, val_dataloaders):
        optimizer = module.configure_optimizers()
        for epoch in range(self.max_epochs):
            module.train()
            for batch_idx, batch in enumerate(train_dataloaders):
                loss = module.training_step(batch, batch_idx)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            self._validate(module, val_dataloaders, epoch)

    @torch.no_grad()
    def _validate(self, module, loader, epoch):
        module.eval()
        outputs = [module.validation_step(batch, i) for i, batch in enumerate(loader)]
        val_loss = torch.stack([o["val_loss"] for o in outputs]).mean().item()
        correct = sum(int(o["correct"]) for o in outputs)
        self.logged.append({"epoch": epoch, "val_loss": val_loss, "correct": correct})


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits()
    train_set = torch.utils.data.Subset(data.train_set(), range(256))
    trainer = Trainer(max_epochs=2)
    trainer.fit(
        LitClassifier(),
        DataLoader(train_set, batch_size=32, shuffle=True),
        DataLoader(data.val_set(), batch_size=128),
    )
    print(trainer.logged)
