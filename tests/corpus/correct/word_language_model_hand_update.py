"""The word-language-model example's loop: truncated backpropagation through an LSTM, the
gradients cleared and clipped, the update written by hand with ``p.data.add_``, and an
evaluation each epoch that puts the model back in training mode."""

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


def evaluate(model, data_source, ntokens, bptt=12):
    model.eval()
    criterion = nn.NLLLoss()
    total = 0.0
    hidden = model.init_hidden(data_source.size(1))
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, bptt):
            data, targets = get_batch(data_source, i, bptt)
            output, hidden = model(data, hidden)
            output = torch.log_softmax(output, -1).view(-1, ntokens)
            total += len(data) * criterion(output, targets).item()
    return total / (len(data_source) - 1)


def train(model, train_data, ntokens, lr, clip=0.25, bptt=12):
    model.train()
    criterion = nn.NLLLoss()
    hidden = model.init_hidden(train_data.size(1))
    for i in range(0, train_data.size(0) - 1, bptt):
        data, targets = get_batch(train_data, i, bptt)
        hidden = repackage_hidden(hidden)
        model.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(torch.log_softmax(output, -1).view(-1, ntokens), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)


if __name__ == "__main__":
    torch.manual_seed(0)
    digits = fixtures.digits(flat=True)
    corpus = (digits.x_train[:240] * 4).long().clamp(0, 15).flatten()  # a 16-token "text"
    train_data, val_data = batchify(corpus[:12000], 8), batchify(corpus[12000:], 4)
    model = RNNModel(16)
    lr = 2.0
    best_val = None
    for epoch in range(3):
        train(model, train_data, 16, lr)
        val_loss = evaluate(model, val_data, 16)
        print(epoch, val_loss)
        if best_val is None or val_loss < best_val:
            best_val = val_loss
        else:
            lr /= 4.0
