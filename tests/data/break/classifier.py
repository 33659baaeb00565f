"""A small, correct classifier training loop: AdamW, a per-epoch StepLR, dropout, best-state
checkpointing. The break operators' tests turn it into broken versions."""

import copy

import torch
from torch import nn

import kata_fixtures as fixtures


def evaluate(model, x, y, device):
    model.eval()
    with torch.no_grad():
        predictions = model(x.to(device)).argmax(dim=1)
    return (predictions == y.to(device)).float().mean().item()


def train(seed=0, device="cpu", epochs=4):
    torch.manual_seed(seed)
    data = fixtures.two_moons(n=256, seed=seed)
    loader = torch.utils.data.DataLoader(data.train_set(), batch_size=32, shuffle=True)
    model = fixtures.MLP(2, 2, hidden=(32,), dropout=0.1).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    criterion = nn.CrossEntropyLoss()

    best_accuracy, best_state = -1.0, None
    for _epoch in range(epochs):
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            # start from clean gradients for this batch
            optimizer.zero_grad()
            logits = model(x)
            loss = criterion(logits, y)
            loss.backward()
            optimizer.step()
        scheduler.step()  # StepLR counts epochs
        accuracy = evaluate(model, data.x_val, data.y_val, device)
        if accuracy > best_accuracy:
            best_accuracy, best_state = accuracy, copy.deepcopy(model.state_dict())

    model.load_state_dict(best_state)
    return {"final_loss": loss.item(), "best_accuracy": best_accuracy}


if __name__ == "__main__":
    print(train())
