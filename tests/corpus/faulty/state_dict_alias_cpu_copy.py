# expect: state-dict-alias
"""The best weights are 'copied to the CPU' with .cpu(), which copies nothing when the model is
already on the CPU; they are saved when training ends."""

import io

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=192, noise=0.5)
    model = fixtures.MLP(8, 1, hidden=(64,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.MSELoss()
    best_loss, best_weights = float("inf"), None
    for _epoch in range(8):
        model.train()
        for i in range(0, len(data.x_train), 32):
            optimizer.zero_grad()
            criterion(model(data.x_train[i : i + 32]), data.y_train[i : i + 32]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = criterion(model(data.x_val), data.y_val).item()
        if val_loss < best_loss:
            best_loss = val_loss
            best_weights = {k: v.cpu() for k, v in model.state_dict().items()}
    torch.save({"model": best_weights, "val_loss": best_loss}, io.BytesIO())
