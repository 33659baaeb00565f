"""ReduceLROnPlateau driven by the validation loss."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def validate(model, x, y):
    model.eval()
    with torch.no_grad():
        return F.mse_loss(model(x), y).item()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = fixtures.MLP(8, 1, hidden=(32,), dropout=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", patience=1)
    for epoch in range(8):
        model.train()
        for i in range(0, len(data.x_train), 32):
            optimizer.zero_grad()
            F.mse_loss(model(data.x_train[i : i + 32]), data.y_train[i : i + 32]).backward()
            optimizer.step()
        val_loss = validate(model, data.x_val, data.y_val)
        scheduler.step(val_loss)
        print(epoch, val_loss, optimizer.param_groups[0]["lr"])
