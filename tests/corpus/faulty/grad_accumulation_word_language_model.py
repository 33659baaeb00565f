# expect: grad-accumulation
"""The word-language-model example's loop: truncated backpropagation through an LSTM, the
gradients clipped, the update written by hand with ``p.data.add_``. The line that cleared
the gradients, ``model.zero_grad()``, is gone: every update adds all the previous ones."""

import torch
from torch import nn

import kata_fixtures as fixtures


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp=16, nhid=32, nlayers=2, dropout=0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        return self.decoder(self.drop(output)), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        shape = (self.rnn.num_layers, bsz, self.rnn.hidden_size)
        return weight.new_zeros(shape), weight.new_zeros(shape)


def repackage_hidden(h):
    return tuple(v.detach() for v in h)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    return data[: nbatch * bsz].view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt=12):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].reshape(-1)


def train(model, train_data, ntokens, lr, clip=0.25, bptt=12):
    model.train()
    criterion = nn.NLLLoss()
    hidden = model.init_hidden(train_data.size(1))
    total, batches = 0.0, 0
    for i in range(0, train_data.size(0) - 1, bptt):
        data, targets = get_batch(train_data, i, bptt)
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(torch.log_softmax(output, -1).view(-1, ntokens), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        total += loss.item()
        batches += 1
    return total / batches


if __name__ == "__main__":
    torch.manual_seed(0)
    digits = fixtures.digits(flat=True)
    corpus = (digits.x_train[:200] * 4).long().clamp(0, 15).flatten()  # a 16-token "text"
    train_data = batchify(corpus, 8)
    model = RNNModel(16)
    for epoch in range(2):
        print(epoch, train(model, train_data, 16, lr=0.5))
