"""Digits with a dropout MLP, trained on the accelerator with early stopping on the validation
loss; the best weights are then loaded into a CPU copy of the model, which serves predictions.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import copy

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

EPOCHS = 8
PATIENCE = 2


def make_model():
    return fixtures.MLP(64, 10, hidden=(128,), dropout=0.3)


@torch.no_grad()
def evaluate(model, x, y, loss_fn):
    model.eval()
    logits = model(x)
    return loss_fn(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def train(seed=0):
    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = fixtures.digits(flat=True, seed=seed)
    loader = DataLoader(data.train_set(), batch_size=64, shuffle=True)
    x_val, y_val = data.x_val.to(device), data.y_val.to(device)
    model = make_model().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    best_loss, best_state, waited = float("inf"), None, 0
    for _ in range(EPOCHS):
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        val_loss, _ = evaluate(model, x_val, y_val, loss_fn)
        if val_loss < best_loss:
            best_loss, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= PATIENCE:
                break

    # Serve on the CPU: a fresh model with the best weights (load_state_dict copies them over).
    server = make_model()
    server.load_state_dict(best_state)
    _, accuracy = evaluate(server, x_val, y_val, loss_fn)
    return {"model": server, "best_val_loss": best_loss, "served_accuracy": accuracy}


if __name__ == "__main__":
    result = train()
    print(f"best validation loss {result['best_val_loss']:.4f}")
    print(f"served model's validation accuracy {result['served_accuracy']:.1%}")
