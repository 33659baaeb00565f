"""Adversarial training: FGSM examples crafted with the model in eval mode, then the model
trains on clean and adversarial batches."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def fgsm(model, x, y, eps):
    was_training = model.training
    model.eval()
    x_adv = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x_adv), y)
    loss.backward()
    x_adv = (x_adv + eps * x_adv.grad.sign()).clamp(0, 1).detach()
    model.train(was_training)
    return x_adv


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits()
    model = fixtures.SmallCNN(width=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(2):
        model.train()
        for i in range(0, 384, 32):
            x, y = data.x_train[i : i + 32], data.y_train[i : i + 32]
            x_adv = fgsm(model, x, y, eps=0.1)
            optimizer.zero_grad()
            loss = 0.5 * F.cross_entropy(model(x), y) + 0.5 * F.cross_entropy(model(x_adv), y)
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
