"""Tiny colour images classified by a small CNN; the images arrive the way image files decode.

Run it: python train.py
"""

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import kata_fixtures as fixtures


def decoded_images(x):
    """The images as an image library (PIL, OpenCV, imageio) hands them over: one
    (height, width, channels) float array per image."""
    return [np.ascontiguousarray(image.permute(1, 2, 0).numpy()) for image in x]


class ImageDataset(Dataset):
    def __init__(self, images, labels):
        self.images = images
        self.labels = labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        image = torch.from_numpy(self.images[index])
        return image, self.labels[index]


def accuracy(model, loader):
    model.eval()
    correct, count = 0, 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            count += len(y)
    return correct / count


def load_data(seed=0):
    split = fixtures.tiny_images(seed=seed)
    train_set = ImageDataset(decoded_images(split.x_train), split.y_train)
    val_set = ImageDataset(decoded_images(split.x_val), split.y_val)
    return train_set, val_set


def train(seed=0, epochs=4):
    torch.manual_seed(seed)
    train_set, val_set = load_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=96)

    model = fixtures.SmallCNN(in_channels=3, classes=4, width=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()

    for _ in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    return {"model": model, "val_acc": accuracy(model, val_loader)}


if __name__ == "__main__":
    print(f"validation accuracy: {train()['val_acc']:.3f}")
