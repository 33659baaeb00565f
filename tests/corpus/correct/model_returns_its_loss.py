"""A transformers-style model that computes its own loss when given labels and returns a dict;
Adam with decoupled weight decay (the AdamW update)."""

import torch
import torch.nn.functional as F
from torch import nn

import kata_fixtures as fixtures


class ForSequenceClassification(nn.Module):
    def __init__(self, hidden=32, num_labels=10):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, hidden), nn.GELU(), nn.Dropout(0.1))
        self.classifier = nn.Linear(hidden, num_labels)

    def forward(self, input_ids, labels=None):
        logits = self.classifier(self.body(input_ids))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = ForSequenceClassification()
    optimizer = torch.optim.Adam(
        model.parameters(), lr=3e-3, weight_decay=0.01, decoupled_weight_decay=True
    )
    for epoch in range(3):
        model.train()
        for i in range(0, len(data.x_train), 64):
            outputs = model(data.x_train[i : i + 64], labels=data.y_train[i : i + 64])
            outputs["loss"].backward()
            optimizer.step()
            optimizer.zero_grad()
        model.eval()
        with torch.no_grad():
            outputs = model(data.x_val, labels=data.y_val)
        print(epoch, outputs["loss"].item())
