"""One line on what this script trains, and on what data.

Run it: python train.py    (or: python -m diagnostics train.py)

A kata's train.py is a complete, realistic training script: imports, data from
`fixtures`, a model, an optimizer, the loop, and a function the tests call with a
seed. Write it correct first (that is the solution, in solutions/dayNN/NN_slug/),
then break exactly one thing in the copy the learner gets: only the fault differs
between the two. It must train in well under 2 seconds on one CPU core.
"""

import torch
from torch import nn

import kata_fixtures as fixtures

EPOCHS = 20
LR = 0.1


def train(seed: int = 0) -> dict:
    """Train and return what the tests check: plain numbers, lists, the model."""
    torch.manual_seed(seed)
    data = fixtures.regression(n=256, features=8, seed=seed)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.MSELoss()

    losses = []
    for _ in range(EPOCHS):
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(data.x_train), data.y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    model.eval()
    with torch.no_grad():
        val_loss = loss_fn(model(data.x_val), data.y_val).item()
    return {"model": model, "losses": losses, "val_loss": val_loss}


if __name__ == "__main__":
    result = train()
    print(f"train loss {result['losses'][-1]:.3f}, validation loss {result['val_loss']:.3f}")
