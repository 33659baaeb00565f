"""An EMA of the weights kept through a live view of the EMA model's state dict: the view is
updated in place after every step and saved at the end (the current EMA is what is wanted)."""

import copy
import io

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.regression(n=256)
    model = fixtures.MLP(8, 1, hidden=(32,))
    ema_model = copy.deepcopy(model)
    ema_state = ema_model.state_dict()  # live view: writing into it updates ema_model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _epoch in range(3):
        for i in range(0, len(data.x_train), 32):
            optimizer.zero_grad()
            F.mse_loss(model(data.x_train[i : i + 32]), data.y_train[i : i + 32]).backward()
            optimizer.step()
            with torch.no_grad():
                for name, value in model.state_dict().items():
                    ema_state[name].mul_(0.9).add_(value, alpha=0.1)
    buffer = io.BytesIO()
    torch.save(ema_state, buffer)
    with torch.no_grad():
        print(F.mse_loss(ema_model(data.x_val), data.y_val).item())
