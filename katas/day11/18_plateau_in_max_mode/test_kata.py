"""Regression, Adam, ReduceLROnPlateau on the validation loss: cut the rate on a plateau only."""

import torch

TARGET_LOSS = 0.065  # with the rate cut on real plateaus only, 0.03 to 0.05


def _scheduler_fed(train, losses):
    """The learning rates after feeding ``losses`` to the kata's scheduler, one per epoch."""
    layer = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(layer.parameters(), lr=train.LR)
    scheduler = train.make_scheduler(optimizer)
    lrs = []
    for value in losses:
        optimizer.zero_grad()
        layer(torch.ones(4, 2)).pow(2).mean().backward()  # an epoch of training, in short
        optimizer.step()
        scheduler.step(value)
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


def test_the_rate_is_kept_while_the_validation_loss_falls(kata):
    train = kata.load("train.py")
    falling = [1.0 / (epoch + 1) for epoch in range(12)]
    lrs = _scheduler_fed(train, falling)
    assert lrs[-1] == train.LR, (
        f"Fed a validation loss that falls every epoch ({', '.join(f'{v:.2f}' for v in falling[:5])}, "
        f"...), the scheduler cut the learning rate to {lrs[-1]:.2e} (per epoch: "
        f"{', '.join(f'{v:.1e}' for v in lrs)}). A loss that falls is improving."
    )


def test_the_rate_is_cut_when_the_validation_loss_stops_improving(kata):
    train = kata.load("train.py")
    plateau = [1.0, 0.5] + [0.5] * 8
    lrs = _scheduler_fed(train, plateau)
    assert lrs[-1] < train.LR, (
        f"Fed a validation loss stuck at 0.5 for 8 epochs, the scheduler kept the learning "
        f"rate at {lrs[-1]:.2e}; a plateau is what it should react to."
    )


def test_the_validation_loss_ends_low(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    losses, lrs = result["val_losses"], result["lrs"]
    assert losses[-1] < TARGET_LOSS, (
        f"The validation loss ends at {losses[-1]:.4f} (target {TARGET_LOSS}); the learning "
        f"rate went {', '.join(f'{v:.1e}' for v in lrs[::5])} every 5 epochs while the "
        f"loss went {', '.join(f'{v:.3f}' for v in losses[::5])}."
    )
