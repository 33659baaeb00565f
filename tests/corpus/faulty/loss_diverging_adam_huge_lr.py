# expect: loss-diverging
"""An MLP on the digits with Adam at a learning rate meant for another scale (3e5 typed for
3e-5): the loss climbs to ~1e11 while every value stays finite, and accuracy sits at chance."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

LR = 3e5

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    loader = DataLoader(data.train_set(), batch_size=64, shuffle=True)
    model = fixtures.MLP(64, 10, hidden=(64,))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(2):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
        print(f"epoch {epoch}: loss {loss.item():.3g} accuracy {accuracy:.2f}")
