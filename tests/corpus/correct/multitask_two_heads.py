"""Multi-task learning: a shared trunk, a classification head and a regression head, the two
losses summed into one backward."""

import torch
import torch.nn.functional as F
from torch import nn

import kata_fixtures as fixtures


class MultiTask(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Dropout(0.1))
        self.classify = nn.Linear(48, 10)
        self.regress = nn.Linear(48, 1)

    def forward(self, x):
        h = self.trunk(x)
        return {"logits": self.classify(h), "ink": self.regress(h).squeeze(-1)}


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    ink = data.x_train.mean(1)  # auxiliary target: how much ink the digit has
    model = MultiTask()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(3):
        model.train()
        for i in range(0, len(data.x_train), 64):
            out = model(data.x_train[i : i + 64])
            loss_cls = F.cross_entropy(out["logits"], data.y_train[i : i + 64])
            loss_reg = F.mse_loss(out["ink"], ink[i : i + 64])
            loss = loss_cls + 0.5 * loss_reg
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, loss_cls.item(), loss_reg.item())
