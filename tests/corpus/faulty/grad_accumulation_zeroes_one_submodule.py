# expect: grad-accumulation
"""An autoencoder trained by one optimizer over encoder and decoder, but only the encoder's
gradients are cleared (encoder.zero_grad()); the decoder's pile up."""

import itertools

import torch
import torch.nn.functional as F
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    encoder = nn.Sequential(nn.Linear(64, 16), nn.ReLU())
    decoder = nn.Sequential(nn.Linear(16, 64), nn.Sigmoid())
    optimizer = torch.optim.Adam(
        itertools.chain(encoder.parameters(), decoder.parameters()), lr=1e-3
    )
    for epoch in range(2):
        for i in range(0, len(data.x_train), 64):
            x = data.x_train[i : i + 64]
            encoder.zero_grad()
            loss = F.binary_cross_entropy(decoder(encoder(x)), x)
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
