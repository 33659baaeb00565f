"""Regression with uncertainty: an MLP predicts a mean and a log-variance for each input,
trained on the Gaussian negative log-likelihood, full batch, with a closure-based step.

Run it: python train.py    (or: python -m diagnostics train.py)
"""

import torch

import kata_fixtures as fixtures

STEPS = 150


def gaussian_nll(output, target):
    """Negative log-likelihood of `target` under N(mean, exp(log_var)), constant dropped."""
    mean, log_var = output[:, :1], output[:, 1:]
    return 0.5 * (log_var + (target - mean) ** 2 / log_var.exp()).mean()


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.regression(seed=seed)
    model = fixtures.MLP(8, 2, hidden=(64, 64))  # outputs: mean, log-variance
    optimizer = torch.optim.Adam(model.parameters(), lr=0.3)

    def closure():
        # step(closure) works for every optimizer, LBFGS included, which re-evaluates it.
        optimizer.zero_grad()
        loss = gaussian_nll(model(data.x_train), data.y_train)
        loss.backward()
        return loss

    losses = []
    for step in range(STEPS):
        losses.append(optimizer.step(closure).item())
        if step % 25 == 0:
            print(f"step {step}: nll {losses[-1]:.4f}")

    model.eval()
    with torch.no_grad():
        val_mse = ((model(data.x_val)[:, :1] - data.y_val) ** 2).mean().item()
    print(f"final nll {losses[-1]:.4f}, validation mse of the mean {val_mse:.4f}")
    return {"model": model, "losses": losses, "val_mse": val_mse}


if __name__ == "__main__":
    train()
