"""Save a checkpoint dict every epoch; resume training from it in a fresh model."""

import os
import tempfile

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def build():
    model = fixtures.MLP(2, 2, hidden=(16,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    return model, optimizer


def train_epochs(model, optimizer, data, start, stop, path):
    for epoch in range(start, stop):
        model.train()
        for i in range(0, len(data.x_train), 32):
            optimizer.zero_grad()
            F.cross_entropy(model(data.x_train[i : i + 32]), data.y_train[i : i + 32]).backward()
            optimizer.step()
        torch.save(
            {
                "epoch": epoch,
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
            },
            path,
        )


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "last.pt")
        model, optimizer = build()
        train_epochs(model, optimizer, data, 0, 2, path)

        checkpoint = torch.load(path)
        model, optimizer = build()
        model.load_state_dict(checkpoint["model_state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
        train_epochs(model, optimizer, data, checkpoint["epoch"] + 1, 4, path)
    model.eval()
    with torch.no_grad():
        print((model(data.x_val).argmax(1) == data.y_val).float().mean().item())
