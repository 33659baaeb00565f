"""A character-level LSTM language model trained with truncated BPTT: the hidden state is
carried across batches and detached from the previous batch's graph."""

import torch
from torch import nn

TEXT = "the quick brown fox jumps over the lazy dog. " * 20


class CharLM(nn.Module):
    def __init__(self, vocab: int, hidden: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.lstm = nn.LSTM(16, hidden, num_layers=2, dropout=0.2, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        h, state = self.lstm(self.embed(x), state)
        return self.out(h), state


def detach(state):
    return tuple(s.detach() for s in state)


if __name__ == "__main__":
    torch.manual_seed(0)
    chars = sorted(set(TEXT))
    ids = torch.tensor([chars.index(c) for c in TEXT])
    batch, bptt = 4, 16
    stream = ids[: len(ids) // batch * batch].view(batch, -1)
    model = CharLM(len(chars))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(2):
        model.train()
        state = None
        for i in range(0, stream.size(1) - 1 - bptt, bptt):
            x, y = stream[:, i : i + bptt], stream[:, i + 1 : i + 1 + bptt]
            if state is not None:
                state = detach(state)
            logits, state = model(x, state)
            loss = criterion(logits.reshape(-1, len(chars)), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        print(epoch, loss.item())
    model.eval()
    with torch.no_grad():
        logits, _ = model(stream[:, :bptt])
    print(logits.shape)
