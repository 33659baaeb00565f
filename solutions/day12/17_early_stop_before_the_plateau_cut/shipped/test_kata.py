"""Regression, Adam, ReduceLROnPlateau and early stopping on the same validation loss."""

import torch

TARGET_LOSS = 0.055  # with the lowered rate given epochs to work, 0.024 to 0.046
LOWERED_EPOCHS = 2  # the lowered rate must train at least this many epochs before a stop


def _plateau_run(train, losses):
    """Feed ``losses`` to the kata's scheduler and early stopping, in the order the loop does.

    Returns the rate each epoch trained at, up to the epoch the stop came after (None: never).
    """
    layer = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(layer.parameters(), lr=train.LR)
    scheduler = train.make_scheduler(optimizer)
    stopper = train.EarlyStopping()
    lrs = []
    for epoch, value in enumerate(losses):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        layer(torch.ones(4, 2)).pow(2).mean().backward()  # an epoch of training, in short
        optimizer.step()
        scheduler.step(value)
        if stopper.step(value):
            return lrs, epoch
    return lrs, None


PLATEAU = [1.0, 0.8, 0.7] + [0.7] * 37  # improves for three epochs, then never again


def test_the_lowered_rate_gets_epochs_to_work_before_the_stop(kata):
    train = kata.load("train.py")
    lrs, stop = _plateau_run(train, PLATEAU)
    lowered = sum(lr < train.LR for lr in lrs)
    shown = ", ".join(f"{v:.0e}" for v in lrs)
    assert lowered >= LOWERED_EPOCHS, (
        f"Fed a validation loss that stops improving after epoch 3, training stopped after "
        f"epoch {stop} having trained {lowered} epoch(s) at a lowered rate (rate per epoch: "
        f"{shown}). A plateau at a large rate is often noise that a smaller rate gets "
        f"through; early stopping ended the run before the scheduler's cut could show that."
    )


def test_training_still_stops_on_a_long_plateau(kata):
    train = kata.load("train.py")
    _, stop = _plateau_run(train, PLATEAU)
    assert stop is not None, (
        f"Fed a validation loss flat for {len(PLATEAU) - 3} epochs, training never stopped: "
        f"early stopping is part of the loop's design (it ends hopeless runs and keeps the "
        f"best weights). Keep it."
    )


def test_the_best_validation_loss_is_low(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    used = ", ".join(f"{v:.0e}" for v in sorted(set(result["lrs"]), reverse=True))
    assert result["best_val_loss"] < TARGET_LOSS, (
        f"The best validation loss is {result['best_val_loss']:.4f} (target {TARGET_LOSS}), "
        f"after {len(result['val_losses'])} epochs at the rates {used}."
    )
