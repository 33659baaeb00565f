# expect: state-dict-alias
"""fit() returns the best state_dict() it saw; the caller loads it into a fresh model for the
final evaluation."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def make_model():
    return fixtures.MLP(8, 1, hidden=(128, 128))


def fit(data, epochs=12):
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    best_loss, best_state = float("inf"), None
    for _epoch in range(epochs):
        model.train()
        for i in range(0, len(data.x_train), 16):
            optimizer.zero_grad()
            F.mse_loss(model(data.x_train[i : i + 16]), data.y_train[i : i + 16]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = F.mse_loss(model(data.x_val), data.y_val).item()
        if val_loss < best_loss:
            best_loss, best_state = val_loss, model.state_dict()
    return best_state, best_loss


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=120, noise=1.0)
    state, best_loss = fit(data)
    final = make_model()
    final.load_state_dict(state)
    final.eval()
    with torch.no_grad():
        print("best", best_loss, "final", F.mse_loss(final(data.x_val), data.y_val).item())
