"""Detection-style fine-tuning with small batches: the model trains, but every BatchNorm keeps
its running statistics (eval mode) while its affine weights still learn."""

import torch
from torch import nn

import kata_fixtures as fixtures


def freeze_bn_stats(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.tiny_images(n=256)
    model = fixtures.SmallCNN(in_channels=3, classes=4, width=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    model.train()
    for i in range(0, 128, 64):  # "pre-training" with large batches
        optimizer.zero_grad()
        criterion(model(data.x_train[i : i + 64]), data.y_train[i : i + 64]).backward()
        optimizer.step()
    for epoch in range(3):
        model.train()
        freeze_bn_stats(model)
        for i in range(0, len(data.x_train), 4):  # batches too small for BatchNorm statistics
            if i >= 160:
                break
            x, y = data.x_train[i : i + 4], data.y_train[i : i + 4]
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            print(epoch, (model(data.x_val).argmax(1) == data.y_val).float().mean().item())
