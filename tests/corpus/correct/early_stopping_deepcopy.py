"""Early stopping that keeps a deep copy of the best weights and restores them."""

import copy

import torch
from torch import nn

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=192, noise=0.5)
    model = fixtures.MLP(8, 1, hidden=(64, 64), dropout=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.MSELoss()
    best_loss, best_state, patience, bad = float("inf"), None, 3, 0
    for epoch in range(30):
        model.train()
        for i in range(0, len(data.x_train), 32):
            optimizer.zero_grad()
            criterion(model(data.x_train[i : i + 32]), data.y_train[i : i + 32]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = criterion(model(data.x_val), data.y_val).item()
        if val_loss < best_loss:
            best_loss, bad = val_loss, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if bad >= patience:
                print(f"early stop at epoch {epoch}")
                break
    model.load_state_dict(best_state)
    with torch.no_grad():
        print("restored", criterion(model(data.x_val), data.y_val).item(), "best", best_loss)
