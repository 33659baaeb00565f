"""Digits read row by row by a GRU; Adam with StepLR: halve the rate every HALVE_EVERY epochs."""

import contextlib
import math

from torch.optim.optimizer import register_optimizer_step_pre_hook

TARGET_ACCURACY = 0.85


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


def test_the_learning_rate_halves_every_few_epochs_not_every_few_batches(kata):
    train = kata.load("train.py")
    with learning_rate_of_every_step() as rates:
        train.train(seed=kata.seed)
    assert rates, "train() never called optimizer.step()."
    steps_per_epoch = len(rates) // train.EPOCHS
    epochs = [rates[e * steps_per_epoch : (e + 1) * steps_per_epoch] for e in range(train.EPOCHS)]
    expected = [train.LR * 0.5 ** (e // train.HALVE_EVERY) for e in range(train.EPOCHS)]
    for epoch, (used, wanted) in enumerate(zip(epochs, expected, strict=True), start=1):
        lowest, highest = min(used), max(used)
        assert math.isclose(lowest, wanted) and math.isclose(highest, wanted), (
            f"During epoch {epoch} the optimizer's learning rate went from {highest:.3g} down to "
            f"{lowest:.3g}; with the rate halved every {train.HALVE_EVERY} epochs, all of "
            f"epoch {epoch} should train at {wanted:.3g}. "
            f"Rates at the start of each epoch: {', '.join(f'{e[0]:.3g}' for e in epochs)}."
        )


def test_the_gru_reads_the_validation_digits(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["val_accuracy"][-1]
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy is {accuracy:.1%} after {len(result['val_accuracy'])} epochs "
        f"(chance is 10%); the GRU should reach {TARGET_ACCURACY:.0%}. The loss stopped "
        f"falling early: epoch losses {', '.join(f'{v:.3f}' for v in result['loss'])}."
    )
