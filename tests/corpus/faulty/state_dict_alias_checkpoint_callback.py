# expect: state-dict-alias
"""A ModelCheckpoint-style callback that keeps the best state_dict() in memory."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


class BestModelKeeper:
    def __init__(self):
        self.best_score = float("-inf")
        self.best_state = None

    def __call__(self, score, model):
        if score > self.best_score:
            self.best_score = score
            self.best_state = model.state_dict()

    def restore(self, model):
        model.load_state_dict(self.best_state)


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=120, noise=1.0)
    model = fixtures.MLP(8, 1, hidden=(128, 128))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    keeper = BestModelKeeper()
    for epoch in range(12):
        model.train()
        for i in range(0, len(data.x_train), 16):
            optimizer.zero_grad()
            F.mse_loss(model(data.x_train[i : i + 16]), data.y_train[i : i + 16]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            score = -F.mse_loss(model(data.x_val), data.y_val).item()
        keeper(score, model)
        print(epoch, score)
    keeper.restore(model)
    print("best", keeper.best_score)
