"""Mixed precision: autocast to bfloat16 and a GradScaler that is only enabled on CUDA."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

device = "cuda" if torch.cuda.is_available() else "cpu"


def train_one_epoch(model, loader, optimizer, scaler, loss_fn):
    model.train()
    total = 0.0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            logits = model(x)
            loss = loss_fn(logits, y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        scaler.step(optimizer)
        scaler.update()
        total += loss.item()
    return total / len(loader)


@torch.no_grad()
def evaluate(model, x, y):
    model.eval()
    with torch.autocast(device_type=device, dtype=torch.bfloat16):
        return (model(x.to(device)).argmax(1) == y.to(device)).float().mean().item()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    loader = DataLoader(data.train_set(), batch_size=64, shuffle=True)
    model = fixtures.MLP(64, 10, hidden=(32,), dropout=0.1, batch_norm=True).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scaler = torch.amp.GradScaler(device, enabled=device == "cuda")
    for epoch in range(2):
        loss = train_one_epoch(model, loader, optimizer, scaler, nn.CrossEntropyLoss())
        print(epoch, loss, evaluate(model, data.x_val, data.y_val))
