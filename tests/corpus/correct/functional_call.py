"""torch.func style: the parameters live in a dict and the module is called functionally."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 1))
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    optimizer = torch.optim.Adam(params.values(), lr=1e-2)
    for epoch in range(6):
        for i in range(0, len(data.x_train), 64):
            x, y = data.x_train[i : i + 64], data.y_train[i : i + 64]
            pred = functional_call(model, params, (x,))
            loss = F.mse_loss(pred, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
    with torch.no_grad():
        print("val", F.mse_loss(functional_call(model, params, (data.x_val,)), data.y_val).item())
