"""Regression MLP trained with Adam: the decay rates of its two moving averages."""

import torch

TARGET_LOSS = 0.08  # Adam with its usual decay rates ends at 0.03 to 0.06


def test_the_step_stays_near_the_learning_rate_when_gradients_shrink(kata):
    """Adam's step is lr * m_hat / sqrt(v_hat): about lr while the gradient is steady, and no
    larger when the gradient shrinks, as it does once training converges."""
    train = kata.load("train.py")
    weight = torch.zeros(1, requires_grad=True)
    optimizer = train.make_optimizer([weight])
    lr = optimizer.param_groups[0]["lr"]
    gradients = [1.0] * 100 + [0.01] * 100  # steady, then a hundred times smaller
    steps = []
    for g in gradients:
        before = weight.detach().clone()
        weight.grad = torch.full_like(weight, g)
        optimizer.step()
        steps.append(abs((weight.detach() - before).item()) / lr)
    largest = max(steps[100:])
    assert largest <= 1.5, (
        f"After 100 steps of gradient 1.0, the gradient fell to 0.01 and the optimizer took "
        f"steps up to {largest:.1f} times its learning rate (steady phase: "
        f"{max(steps[:100]):.2f}). The average of the gradients remembers the large ones "
        f"longer than the average of their squares does."
    )


def test_the_validation_loss_ends_low(kata):
    train = kata.load("train.py")
    losses = train.train(seed=kata.seed)["val_losses"]
    shown = ", ".join(f"{v:.3f}" for v in losses[::4])
    assert losses[-1] < TARGET_LOSS, (
        f"The validation loss ends at {losses[-1]:.3f} (every 4 epochs: {shown}); Adam at "
        f"this learning rate, with its usual decay rates, ends under {TARGET_LOSS}."
    )
