"""A small, correct regression loop with a per-batch OneCycleLR schedule and a best-weights
snapshot made with clone()."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def train(seed=0, epochs=3):
    torch.manual_seed(seed)
    data = fixtures.regression(n=256, features=8, seed=seed)
    loader = torch.utils.data.DataLoader(data.train_set(), batch_size=32, shuffle=True)
    model = fixtures.MLP(8, 1, hidden=(32,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.05, total_steps=epochs * len(loader)
    )

    best_loss, best_weights = float("inf"), None
    for _epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()  # OneCycleLR moves every batch
        with torch.no_grad():
            val_loss = F.mse_loss(model(data.x_val), data.y_val).item()
        if val_loss < best_loss:
            best_loss = val_loss
            best_weights = {k: v.clone() for k, v in model.state_dict().items()}

    model.load_state_dict(best_weights)
    return {"final_loss": loss.item(), "best_val_loss": best_loss}


if __name__ == "__main__":
    print(train())
