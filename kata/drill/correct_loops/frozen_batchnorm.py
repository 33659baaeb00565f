"""Fine-tuning with frozen BatchNorm: the network trains, its BatchNorm layers stay in eval mode.

After model.train() the BatchNorm layers are put back in eval mode on purpose, so that
they normalise with the statistics they already have and small batches do not overwrite
them; their weights are frozen too. The rest of the model trains as usual.
"""

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

DAY = 12
EPOCHS = 6


def freeze_batchnorm(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()  # keep the running statistics as they are
            for p in module.parameters():
                p.requires_grad_(False)


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.two_moons(seed=seed)
    loader = DataLoader(data.train_set(), batch_size=16, shuffle=True)
    model = fixtures.MLP(2, 2, hidden=(32, 32), batch_norm=True)
    with torch.no_grad():  # statistics from the whole training set, computed once
        model.train()
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.momentum = None  # a cumulative average over the pass
        model(data.x_train)
    freeze_batchnorm(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    losses = []
    for _epoch in range(EPOCHS):
        model.train()
        freeze_batchnorm(model)
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

        model.eval()
        with torch.no_grad():
            accuracy = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
    return {"model": model, "losses": losses, "val_accuracy": accuracy}


if __name__ == "__main__":
    print(train()["val_accuracy"])
