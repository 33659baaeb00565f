"""Read the 8x8 digits row by row with a small GRU; Adam with a step-decay schedule.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import kata_fixtures as fixtures

EPOCHS = 4
LR = 0.02
BATCH_SIZE = 64
HALVE_EVERY = 2  # epochs


class RowReader(nn.Module):
    """A GRU reads the image one row (8 pixels) at a time; its last state is classified."""

    def __init__(self, row_width=8, hidden=32, classes=10):
        super().__init__()
        self.gru = nn.GRU(row_width, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, rows):  # rows: (batch, 8 rows, 8 pixels)
        _, last = self.gru(rows)
        return self.head(last[-1])


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.digits(seed=seed)
    rows_train, rows_val = data.x_train.squeeze(1), data.x_val.squeeze(1)  # drop the channel
    loader = DataLoader(
        TensorDataset(rows_train, data.y_train), batch_size=BATCH_SIZE, shuffle=True
    )

    model = RowReader()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=HALVE_EVERY, gamma=0.5)

    history = {"loss": [], "val_accuracy": [], "lr": []}
    for epoch in range(EPOCHS):
        model.train()
        history["lr"].append(optimizer.param_groups[0]["lr"])
        total = 0.0
        for rows, labels in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(rows), labels)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(rows)

        model.eval()
        with torch.no_grad():
            accuracy = (model(rows_val).argmax(1) == data.y_val).float().mean().item()
        history["loss"].append(total / len(rows_train))
        history["val_accuracy"].append(accuracy)
        print(
            f"epoch {epoch + 1}: lr {history['lr'][-1]:.2e}, loss {history['loss'][-1]:.3f}, "
            f"val accuracy {accuracy:.1%}"
        )
    return {"model": model, **history}


if __name__ == "__main__":
    train()
