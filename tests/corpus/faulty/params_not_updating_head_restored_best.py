# expect: params-not-updating
"""The transfer-learning tutorial's loop (train and val phases, best weights kept with
copy.deepcopy and restored at the end), with the optimizer built before the new head
replaces model.fc: the head is in no optimizer. Restoring the best weights copies into it,
which is no update."""

import copy

import torch
from torch import nn

import kata_fixtures as fixtures


class Backbone(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        return self.fc(self.features(x))


def train_model(model, criterion, optimizer, scheduler, loaders, num_epochs=3):
    best_model_wts = copy.deepcopy(model.state_dict())
    best_acc = 0.0
    for epoch in range(num_epochs):
        for phase in ["train", "val"]:
            if phase == "train":
                model.train()
            else:
                model.eval()
            corrects, seen = 0, 0
            for inputs, labels in loaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    loss = criterion(outputs, labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
                corrects += (outputs.argmax(1) == labels).sum().item()
                seen += len(labels)
            if phase == "train":
                scheduler.step()
            epoch_acc = corrects / seen
            if phase == "val" and epoch_acc > best_acc:
                best_acc = epoch_acc
                best_model_wts = copy.deepcopy(model.state_dict())
        print(epoch, loss.item(), best_acc)
    model.load_state_dict(best_model_wts)
    return model


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    y_train, y_val = data.y_train % 2, data.y_val % 2  # new task: even or odd
    loaders = {
        "train": torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(data.x_train[:512], y_train[:512]), batch_size=32
        ),
        "val": torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(data.x_val, y_val), batch_size=64
        ),
    }
    model_ft = Backbone()
    optimizer_ft = torch.optim.SGD(model_ft.parameters(), lr=0.01, momentum=0.9)
    model_ft.fc = nn.Linear(model_ft.fc.in_features, 2)
    exp_lr_scheduler = torch.optim.lr_scheduler.StepLR(optimizer_ft, step_size=7, gamma=0.1)
    model_ft = train_model(model_ft, nn.CrossEntropyLoss(), optimizer_ft, exp_lr_scheduler, loaders)
