"""A GRU encoder-decoder (sequence reversal) as two modules, one optimizer over both through
itertools.chain, teacher forcing, and greedy decoding for evaluation."""

import itertools

import torch
from torch import nn

VOCAB, HIDDEN, LENGTH = 8, 32, 5


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 16)
        self.drop = nn.Dropout(0.1)
        self.rnn = nn.GRU(16, HIDDEN, batch_first=True)

    def forward(self, src):
        _, hidden = self.rnn(self.drop(self.embed(src)))
        return hidden


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB + 1, 16)  # + start token
        self.drop = nn.Dropout(0.1)
        self.rnn = nn.GRU(16, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, VOCAB)

    def forward(self, tokens, hidden):
        output, hidden = self.rnn(self.drop(self.embed(tokens)), hidden)
        return self.out(output), hidden


def batch(n):
    src = torch.randint(0, VOCAB, (n, LENGTH))
    return src, src.flip(1)


if __name__ == "__main__":
    torch.manual_seed(0)
    encoder, decoder = Encoder(), Decoder()
    optimizer = torch.optim.Adam(itertools.chain(encoder.parameters(), decoder.parameters()), 1e-2)
    criterion = nn.CrossEntropyLoss()
    start = torch.full((32, 1), VOCAB)
    for _step in range(40):
        encoder.train()
        decoder.train()
        src, tgt = batch(32)
        decoder_input = torch.cat([start, tgt[:, :-1]], dim=1)  # teacher forcing
        logits, _ = decoder(decoder_input, encoder(src))
        loss = criterion(logits.reshape(-1, VOCAB), tgt.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    encoder.eval()
    decoder.eval()
    with torch.no_grad():
        src, tgt = batch(64)
        hidden, token, out = encoder(src), torch.full((64, 1), VOCAB), []
        for _ in range(LENGTH):
            logits, hidden = decoder(token, hidden)
            token = logits.argmax(-1)
            out.append(token)
        print(loss.item(), (torch.cat(out, 1) == tgt).float().mean().item())
