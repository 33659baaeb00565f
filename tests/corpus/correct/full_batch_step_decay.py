"""Full-batch training, as for a small table or a physics-informed net: every epoch is one
optimizer step, and the StepLR (halve every 50 epochs) is stepped once per epoch."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=128)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=50, gamma=0.5)
    for epoch in range(500):
        optimizer.zero_grad()
        loss = F.mse_loss(model(data.x_train), data.y_train)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if epoch % 100 == 0:
            print(epoch, loss.item(), scheduler.get_last_lr())
