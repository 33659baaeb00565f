# expect: loss-diverging
"""A small Trainer class whose config gives the learning rate as a bare number meant for a
"lr scale" option (10, for 1e-3 x 10): RMSprop at lr=10 sends the weights flying and the
regression loss climbs by orders of magnitude, finite all through the run."""

import torch
from torch import nn

import kata_fixtures as fixtures

CONFIG = {"lr": 10, "epochs": 4, "batch_size": 32}


class Trainer:
    def __init__(self, model, config):
        self.model = model
        self.config = config
        self.optimizer = torch.optim.RMSprop(model.parameters(), lr=config["lr"])
        self.loss_fn = nn.MSELoss()

    def train_step(self, x, y):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def fit(self, x, y):
        history = []
        for _ in range(self.config["epochs"]):
            for i in range(0, len(x), self.config["batch_size"]):
                history.append(self.train_step(x[i : i + 32], y[i : i + 32]))
        return history


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    trainer = Trainer(nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1)), CONFIG)
    history = trainer.fit(data.x_train, data.y_train)
    print([f"{v:.2g}" for v in history])
