"""Tiny bar images with SGD and CosineAnnealingLR: every epoch must train at its scheduled rate."""

import contextlib
import math

from torch.optim.optimizer import register_optimizer_step_pre_hook

TARGET_ACCURACY = 0.95


@contextlib.contextmanager
def learning_rate_of_every_step():
    """Record the learning rate each optimizer.step() runs with."""
    rates = []
    handle = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: rates.append(optimizer.param_groups[0]["lr"])
    )
    try:
        yield rates
    finally:
        handle.remove()


def test_each_epoch_trains_at_its_cosine_schedule_rate(kata):
    train = kata.load("train.py")
    with learning_rate_of_every_step() as rates:
        train.train(seed=kata.seed)
    assert rates, "train() never called optimizer.step()."
    steps_per_epoch = len(rates) // train.EPOCHS
    used = [rates[epoch * steps_per_epoch] for epoch in range(train.EPOCHS)]
    expected = [
        train.LR * (1 + math.cos(math.pi * epoch / train.EPOCHS)) / 2
        for epoch in range(train.EPOCHS)
    ]
    shown = ", ".join(f"{v:.4f}" for v in used)
    wanted = ", ".join(f"{v:.4f}" for v in expected)
    assert math.isclose(used[0], train.LR, rel_tol=1e-6), (
        f"The first epoch trained at lr {used[0]:.4f}, not at the initial rate {train.LR}: the "
        f"schedule moved on before the first optimizer step. Epoch by epoch the rates were "
        f"[{shown}]; a cosine schedule over {train.EPOCHS} epochs gives [{wanted}]."
    )
    assert all(
        math.isclose(u, e, rel_tol=1e-6, abs_tol=1e-9) for u, e in zip(used, expected, strict=True)
    ), (
        f"Epoch by epoch the optimizer trained at [{shown}]; a cosine schedule over "
        f"{train.EPOCHS} epochs gives [{wanted}]."
    )


def test_the_bars_are_recognised_on_validation_images(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["val_accuracy"][-1]
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy is {accuracy:.1%}; the conv net should reach "
        f"{TARGET_ACCURACY:.0%} on the four bar orientations."
    )
