"""Two optimizers written by hand: SGD with momentum, and Adam with bias correction.

Write the two ``step`` methods so that each optimizer moves the parameters exactly as
torch.optim.SGD(momentum=...) and torch.optim.Adam do. The tests compare them, step by step.

Run it: python train.py    (trains a small regression with each of them)
"""

import torch
from torch import nn

import kata_fixtures as fixtures


class SGDMomentum(torch.optim.Optimizer):
    """SGD with (heavy-ball) momentum, as torch.optim.SGD(momentum=m) with no dampening.

    For each parameter p with gradient g, keeping a velocity buffer b in ``self.state[p]``:
    the first step starts the buffer at g itself; later steps set b = momentum * b + g; then
    p = p - lr * b.
    """

    def __init__(self, params, lr=0.01, momentum=0.9):
        if lr <= 0.0 or not 0.0 <= momentum < 1.0:
            raise ValueError(f"need lr > 0 and 0 <= momentum < 1, got lr={lr}, momentum={momentum}")
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = p.grad.detach().clone()
                else:
                    state["velocity"].mul_(group["momentum"]).add_(p.grad)
                p.add_(state["velocity"], alpha=-group["lr"])


class Adam(torch.optim.Optimizer):
    """Adam with bias correction, as torch.optim.Adam (no weight decay, no amsgrad).

    For each parameter p with gradient g, at step t (1, 2, ...), keeping m and v in
    ``self.state[p]`` (both start at zero):
        m = beta1 * m + (1 - beta1) * g           the running mean of the gradient
        v = beta2 * v + (1 - beta2) * g * g       the running mean of its square
        m_hat = m / (1 - beta1 ** t)              bias correction: m and v start at zero
        v_hat = v / (1 - beta2 ** t)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        if lr <= 0.0 or not all(0.0 <= b < 1.0 for b in betas) or eps < 0.0:
            raise ValueError(f"need lr > 0, 0 <= betas < 1, eps >= 0; got {lr}, {betas}, {eps}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["t"] = 0
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                state["t"] += 1
                t, m, v = state["t"], state["m"], state["v"]
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                m_hat = m / (1 - beta1**t)
                v_hat = v / (1 - beta2**t)
                p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


def train(seed=0, optimizer="adam", epochs=30):
    """Fit a small regression with one of the hand-written optimizers; returns the losses."""
    torch.manual_seed(seed)
    data = fixtures.regression(seed=seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    if optimizer == "adam":
        opt = Adam(model.parameters(), lr=1e-2)
    else:
        opt = SGDMomentum(model.parameters(), lr=0.02, momentum=0.9)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(epochs):
        model.train()
        for x, y in zip(data.x_train.split(32), data.y_train.split(32), strict=True):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            losses.append(loss_fn(model(data.x_val), data.y_val).item())
    return {"model": model, "val_losses": losses}


if __name__ == "__main__":
    for name in ("sgd", "adam"):
        result = train(optimizer=name)
        print(
            f"{name}: validation loss {result['val_losses'][0]:.3f} -> {result['val_losses'][-1]:.3f}"
        )
