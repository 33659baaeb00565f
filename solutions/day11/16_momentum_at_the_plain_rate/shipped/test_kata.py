"""Regression MLP, SGD with momentum: momentum multiplies the effective step."""

import math

import torch

TARGET_LOSS = 0.15  # plain SGD at its tuned rate reaches about 0.04 to 0.13


def test_the_optimizer_keeps_its_momentum(kata):
    train = kata.load("train.py")
    optimizer = train.make_optimizer(torch.nn.Linear(2, 1))
    momentum = optimizer.param_groups[0].get("momentum", 0.0)
    assert type(optimizer) is torch.optim.SGD and momentum == 0.9, (
        f"The optimizer is {type(optimizer).__name__} with momentum {momentum}; the point of "
        f"the change was SGD with momentum 0.9 for a smoother curve. Keep it, and make it "
        f"stable."
    )


def test_the_validation_loss_stays_finite_and_ends_low(kata):
    train = kata.load("train.py")
    losses = train.train(seed=kata.seed)["val_losses"]
    shown = ", ".join(f"{v:.3g}" for v in losses[:6])
    assert all(math.isfinite(v) for v in losses), (
        f"The validation loss is not finite after some epochs (first epochs: {shown}, ...): "
        f"the weights blew up. Every step overshoots further than the last."
    )
    assert losses[-1] < TARGET_LOSS, (
        f"The validation loss ends at {losses[-1]:.3f} (first epochs: {shown}); plain SGD at "
        f"its tuned rate reaches under {TARGET_LOSS}."
    )

