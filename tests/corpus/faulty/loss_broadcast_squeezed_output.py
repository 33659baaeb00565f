# expect: loss-broadcast
"""The output is squeezed to (N,) 'to be safe', the targets stay (N, 1)."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = fixtures.MLP(8, 1, hidden=(32,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(3):
        for i in range(0, len(data.x_train), 32):
            pred = model(data.x_train[i : i + 32]).squeeze()
            loss = F.smooth_l1_loss(pred, data.y_train[i : i + 32])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
