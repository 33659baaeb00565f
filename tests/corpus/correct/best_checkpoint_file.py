"""The best weights written to a file when the validation loss improves, loaded back at the
end."""

import os
import tempfile

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=120, noise=1.0)
    model = fixtures.MLP(8, 1, hidden=(64, 64))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "best.pt")
        for _epoch in range(8):
            model.train()
            for i in range(0, len(data.x_train), 16):
                optimizer.zero_grad()
                F.mse_loss(model(data.x_train[i : i + 16]), data.y_train[i : i + 16]).backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                val_loss = F.mse_loss(model(data.x_val), data.y_val).item()
            if val_loss < best:
                best = val_loss
                torch.save(model.state_dict(), path)
        model.load_state_dict(torch.load(path))
    print(best)
