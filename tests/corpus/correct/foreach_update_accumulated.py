"""A fused update by hand with ``torch._foreach_add_``, the gradients of four micro-batches
summed on purpose before each update and cleared (set to None) after it."""

import torch
from torch import nn

import kata_fixtures as fixtures

ACCUMULATE = 4

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(seed=0)
    model = fixtures.MLP(2, 2, hidden=(32, 32))
    params = list(model.parameters())
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data.x_train, data.y_train), batch_size=8, shuffle=True
    )
    for epoch in range(3):
        for i, (x, y) in enumerate(loader):
            loss = nn.functional.cross_entropy(model(x), y) / ACCUMULATE
            loss.backward()
            if (i + 1) % ACCUMULATE == 0:
                with torch.no_grad():
                    torch._foreach_add_(params, [p.grad for p in params], alpha=-0.2)
                for p in params:
                    p.grad = None
        print(epoch, loss.item())
