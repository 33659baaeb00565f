"""The transfer-learning tutorial's loop: a train and a val phase per epoch, gradients switched
with torch.set_grad_enabled(phase == "train"), the best weights deep-copied."""

import copy

import torch
from torch import nn
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


def train_model(model, dataloaders, criterion, optimizer, scheduler, num_epochs=3):
    best_model_wts = copy.deepcopy(model.state_dict())
    best_acc = 0.0
    for epoch in range(num_epochs):
        for phase in ["train", "val"]:
            if phase == "train":
                model.train()
            else:
                model.eval()
            running_corrects = 0
            for inputs, labels in dataloaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    _, preds = torch.max(outputs, 1)
                    loss = criterion(outputs, labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
                running_corrects += torch.sum(preds == labels.data)
            if phase == "train":
                scheduler.step()
            epoch_acc = running_corrects.double() / len(dataloaders[phase].dataset)
            print(f"{epoch} {phase} Acc: {epoch_acc:.4f}")
            if phase == "val" and epoch_acc > best_acc:
                best_acc = epoch_acc
                best_model_wts = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_model_wts)
    return model


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.tiny_images(n=256)
    dataloaders = {
        "train": DataLoader(data.train_set(), batch_size=32, shuffle=True),
        "val": DataLoader(data.val_set(), batch_size=64),
    }
    model_ft = fixtures.SmallCNN(in_channels=3, classes=4, width=8)
    optimizer_ft = torch.optim.SGD(model_ft.parameters(), lr=0.01, momentum=0.9)
    exp_lr_scheduler = lr_scheduler.StepLR(optimizer_ft, step_size=7, gamma=0.1)
    train_model(model_ft, dataloaders, nn.CrossEntropyLoss(), optimizer_ft, exp_lr_scheduler)
