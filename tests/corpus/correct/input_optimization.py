"""Optimising an input through a frozen network in eval mode (feature visualisation): the
optimizer holds the image, not the model."""

import torch

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits()
    model = fixtures.SmallCNN(width=8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for i in range(0, 256, 32):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(
            model(data.x_train[i : i + 32]), data.y_train[i : i + 32]
        ).backward()
        opt.step()

    model.eval()
    model.requires_grad_(False)
    image = torch.zeros(1, 1, 8, 8, requires_grad=True)
    optimizer = torch.optim.Adam([image], lr=0.1)
    for _ in range(30):
        optimizer.zero_grad()
        score = model(image)[0, 3] - 0.01 * image.pow(2).sum()
        (-score).backward()
        optimizer.step()
    print(score.item())
