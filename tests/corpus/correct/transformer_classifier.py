"""A small Transformer encoder classifying token sequences, with a padding mask."""

import torch
from torch import nn


class TransformerClassifier(nn.Module):
    def __init__(self, vocab=12, d_model=16, classes=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model, padding_idx=0)
        self.pos = nn.Parameter(torch.zeros(1, 10, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, nhead=2, dim_feedforward=32, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, classes)

    def forward(self, tokens):
        pad = tokens == 0
        h = self.encoder(
            self.embed(tokens) + self.pos[:, : tokens.size(1)], src_key_padding_mask=pad
        )
        h = h.masked_fill(pad.unsqueeze(-1), 0).sum(1) / (~pad).sum(1, keepdim=True)
        return self.head(h)


def batch(n):
    """Label: does token 3 appear? Sequences of random length, padded with 0."""
    tokens = torch.randint(1, 12, (n, 10))
    lengths = torch.randint(4, 11, (n,))
    tokens[torch.arange(10) >= lengths.unsqueeze(1)] = 0
    return tokens, (tokens == 3).any(1).long()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = TransformerClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    criterion = nn.CrossEntropyLoss()
    for step in range(40):
        model.train()
        x, y = batch(32)
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 20 == 19:
            model.eval()
            with torch.no_grad():
                x, y = batch(64)
                print(step, loss.item(), (model(x).argmax(1) == y).float().mean().item())
