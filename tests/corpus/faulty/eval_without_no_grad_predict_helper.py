# expect: eval-without-no-grad
"""A predict() helper for the final predictions: eval mode, but gradients left on."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def predict(model, x, batch_size=64):
    model.eval()
    predictions = []
    for i in range(0, len(x), batch_size):
        probabilities = F.softmax(model(x[i : i + batch_size]), dim=1)
        predictions += probabilities.argmax(1).tolist()
    return predictions


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = fixtures.MLP(64, 10, hidden=(32,), batch_norm=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for i in range(0, len(data.x_train), 64):
        optimizer.zero_grad()
        F.cross_entropy(model(data.x_train[i : i + 64]), data.y_train[i : i + 64]).backward()
        optimizer.step()
    predictions = predict(model, data.x_val)
    print(sum(p == y for p, y in zip(predictions, data.y_val.tolist(), strict=True)))
