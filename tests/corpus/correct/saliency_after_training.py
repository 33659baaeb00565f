"""A model trained with an optimizer, then saliency maps: the gradient of each class score
with respect to the input, one backward per example. The parameters' gradients pile up
during the saliency pass, but nothing updates the parameters any more."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = fixtures.MLP(64, 10, hidden=(64,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _epoch in range(3):
        for i in range(0, 512, 64):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(
                model(data.x_train[i : i + 64]), data.y_train[i : i + 64]
            )
            loss.backward()
            optimizer.step()
    model.eval()
    maps = []
    for x in data.x_val[:16]:
        x = x.unsqueeze(0).requires_grad_(True)
        score = model(x).max()
        score.backward()
        maps.append(x.grad.abs().squeeze(0))
    print(torch.stack(maps).mean().item())
