# expect: device-mismatch
# corpus: accelerator
"""The batches are moved to the GPU for the loss, but the accuracy compares the predictions
with the labels kept on the host for the metric."""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(n=256)
    model = fixtures.MLP(2, 2, hidden=(16,)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(2):
        correct = 0
        for x, labels in DataLoader(data.train_set(), batch_size=32, shuffle=True):
            logits = model(x.to(device))
            loss = criterion(logits, labels.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct += (logits.argmax(1) == labels).sum().item()
        print(epoch, correct / len(data.x_train))
