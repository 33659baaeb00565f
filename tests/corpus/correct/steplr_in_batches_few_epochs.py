"""A StepLR written in batches (step_size of 40 batches) and an ExponentialLR with a
per-batch gamma, both stepped after every batch, as they are meant to be: over three epochs
of 10 batches the rate falls gently."""

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    loader = DataLoader(Subset(data.train_set(), range(320)), batch_size=32, shuffle=True)
    model = fixtures.MLP(64, 10, hidden=(32,))
    head_opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    schedulers = [
        torch.optim.lr_scheduler.StepLR(head_opt, step_size=40, gamma=0.5),
        torch.optim.lr_scheduler.ExponentialLR(head_opt, gamma=0.995),
    ]
    for epoch in range(3):
        for x, y in loader:
            head_opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            head_opt.step()
            for scheduler in schedulers:
                scheduler.step()
        print(epoch, loss.item(), head_opt.param_groups[0]["lr"])
