"""Dropout and BatchNorm1d written by hand, then used in a small digits classifier.

Write the two ``forward`` methods so that each layer behaves exactly as torch's own
(nn.Dropout, nn.BatchNorm1d) in training and in eval mode. The tests compare them.

Run it: python train.py
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


class Dropout(nn.Module):
    """Inverted dropout, as nn.Dropout(p).

    Training mode: zero each activation with probability p (a fresh random mask for every
    call, shaped like the input) and multiply the survivors by 1 / (1 - p), so that every
    activation keeps its expected value. Eval mode: return the input unchanged.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
        self.p = p

    def forward(self, x):
        # Your code: the training-mode mask and scaling, and eval mode (see the docstring).
        raise NotImplementedError("Dropout.forward is not written yet")

    def extra_repr(self):
        return f"p={self.p}"


class BatchNorm1d(nn.Module):
    """Batch normalization over the features of (N, C) or (N, C, L) inputs, as nn.BatchNorm1d.

    Training mode: normalize each feature c with the mean and the (biased) variance of the
    batch, over every dimension but the feature one: (x - mean) / sqrt(var + eps), then scale
    by weight[c] and shift by bias[c]. Update the running statistics with PyTorch's momentum
    convention: running = (1 - momentum) * running + momentum * batch_statistic, using the
    unbiased variance (divided by n - 1) for running_var. Eval mode: normalize with the
    running statistics instead, and update nothing.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x):
        if x.dim() not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(
                f"expected (N, {self.num_features}) or (N, {self.num_features}, L), "
                f"got {tuple(x.shape)}"
            )
        # Your code: batch statistics and the running-statistics update in training mode, the
        # running statistics in eval mode, then normalize, scale and shift (see the docstring).
        raise NotImplementedError("BatchNorm1d.forward is not written yet")

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


def make_model():
    return nn.Sequential(
        nn.Linear(64, 128),
        BatchNorm1d(128),
        nn.ReLU(),
        Dropout(0.3),
        nn.Linear(128, 10),
    )


def train(seed=0, epochs=6):
    torch.manual_seed(seed)
    data = fixtures.digits(flat=True, seed=seed)
    loader = DataLoader(data.train_set(), batch_size=64, shuffle=True)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
    return {"model": model, "val_accuracy": accuracy}


if __name__ == "__main__":
    print(f"validation accuracy {train()['val_accuracy']:.3f}")
