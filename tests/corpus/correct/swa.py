"""Stochastic weight averaging, the recipe from the torch.optim docs: a cosine schedule, then
SWALR and an AveragedModel, BatchNorm statistics recomputed with update_bn."""

import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    loader = DataLoader(data.train_set(), batch_size=128, shuffle=True)
    model = fixtures.MLP(64, 10, hidden=(32,), batch_norm=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    swa_model = AveragedModel(model)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=6)
    swa_start = 3
    swa_scheduler = SWALR(optimizer, swa_lr=0.05, anneal_epochs=2)
    for epoch in range(6):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        if epoch > swa_start:
            swa_model.update_parameters(model)
            swa_scheduler.step()
        else:
            scheduler.step()
    update_bn(loader, swa_model)
    swa_model.eval()
    with torch.no_grad():
        preds = swa_model(data.x_val)
    print((preds.argmax(1) == data.y_val).float().mean().item())
