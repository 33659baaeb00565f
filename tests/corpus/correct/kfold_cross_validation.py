"""K-fold cross-validation: a new model and a new optimizer for every fold."""

import torch
from torch import nn

import kata_fixtures as fixtures


def make_model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 1))


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=240)
    x, y = data.x_train, data.y_train
    folds = torch.arange(len(x)) % 4
    scores = []
    for k in range(4):
        train_idx, val_idx = (folds != k).nonzero().squeeze(1), (folds == k).nonzero().squeeze(1)
        model = make_model()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        loss_fn = nn.MSELoss()
        for _epoch in range(3):
            model.train()
            for i in range(0, len(train_idx), 32):
                batch = train_idx[i : i + 32]
                optimizer.zero_grad()
                loss_fn(model(x[batch]), y[batch]).backward()
                optimizer.step()
        model.eval()
        with torch.no_grad():
            scores.append(loss_fn(model(x[val_idx]), y[val_idx]).item())
    print("cv mse", sum(scores) / len(scores))
