"""Two moons with an MLP: the plain loop everybody writes first."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


def main() -> float:
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    train_loader = DataLoader(data.train_set(), batch_size=32, shuffle=True)
    val_loader = DataLoader(data.val_set(), batch_size=64)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    for epoch in range(4):
        model.train()
        for inputs, labels in train_loader:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

        model.eval()
        correct = 0
        with torch.no_grad():
            for inputs, labels in val_loader:
                correct += (model(inputs).argmax(1) == labels).sum().item()
        accuracy = correct / len(val_loader.dataset)
        print(f"epoch {epoch}: loss {loss.item():.3f} val acc {accuracy:.2%}")
    return accuracy


if __name__ == "__main__":
    main()
