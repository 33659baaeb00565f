# expect: eval-mode-in-training
"""Every few steps a callback prints sample predictions in eval mode and does not switch back."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def show_samples(model, x, y):
    model.eval()
    with torch.no_grad():
        print("pred", model(x[:8]).argmax(1).tolist(), "true", y[:8].tolist())


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = fixtures.MLP(64, 10, hidden=(64,), dropout=0.3)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(30):
        idx = torch.randint(0, len(data.x_train), (64,))
        loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            show_samples(model, data.x_val, data.y_val)
