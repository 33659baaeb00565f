# expect: grad-accumulation
"""A fused update by hand with ``torch._foreach_add_`` over the parameters and their
gradients, in a small Trainer; the gradients are never cleared between steps."""

import torch
from torch import nn

import kata_fixtures as fixtures


class FusedSGDTrainer:
    def __init__(self, model, lr=0.05):
        self.model = model
        self.lr = lr
        self.params = [p for p in model.parameters() if p.requires_grad]

    @torch.no_grad()
    def update(self):
        grads = [p.grad for p in self.params]
        torch._foreach_add_(self.params, grads, alpha=-self.lr)

    def fit(self, loader, epochs=3):
        loss_fn = nn.CrossEntropyLoss()
        for epoch in range(epochs):
            for x, y in loader:
                loss = loss_fn(self.model(x), y)
                loss.backward()
                self.update()
            print(epoch, loss.item())


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.two_moons(seed=0)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data.x_train, data.y_train), batch_size=32, shuffle=True
    )
    FusedSGDTrainer(fixtures.MLP(2, 2, hidden=(32, 32))).fit(loader)
