# expect: scheduler-per-batch
"""A fine-tuning loop with few batches per epoch (8) and StepLR(step_size=7, gamma=0.1)
stepped inside the batch loop: the rate falls 100x within the first two epochs, though the
whole run (two epochs) sees only two decays."""

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    loader = DataLoader(Subset(data.train_set(), range(256)), batch_size=32, shuffle=True)
    model = fixtures.MLP(64, 10, hidden=(32,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(2):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
        print(epoch, loss.item(), scheduler.get_last_lr())
