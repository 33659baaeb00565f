# expect: state-dict-alias
"""The best weights kept with state_dict().copy(): a new dict, but the same tensors."""

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=120, noise=1.0)
    model = fixtures.MLP(8, 1, hidden=(128, 128))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.MSELoss()
    best = {"loss": float("inf"), "state": None}
    for _epoch in range(12):
        model.train()
        for i in range(0, len(data.x_train), 16):
            optimizer.zero_grad()
            criterion(model(data.x_train[i : i + 16]), data.y_train[i : i + 16]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val = criterion(model(data.x_val), data.y_val).item()
        if val < best["loss"]:
            best = {"loss": val, "state": model.state_dict().copy()}
    model.load_state_dict(best["state"])
    print(best["loss"])
