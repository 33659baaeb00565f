"""Two moons with SGD and momentum: the loss should fall epoch after epoch."""

TARGET_LOSS = 0.15
TARGET_ACCURACY = 0.9


def test_training_loss_falls_below_the_target(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    losses = result["losses"]
    assert losses[-1] < TARGET_LOSS, (
        f"After {len(losses)} epochs the training loss is {losses[-1]:.3g} "
        f"(epoch by epoch: {', '.join(f'{v:.3g}' for v in losses)}); it should end below "
        f"{TARGET_LOSS}. The loss grows instead of falling: each optimizer step seems to be "
        "larger than the current batch's gradient alone would make it."
    )


def test_the_model_separates_the_moons_on_validation_data(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["val_accuracy"]
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy is {accuracy:.1%}; a small MLP should reach "
        f"{TARGET_ACCURACY:.0%} on the two moons. The training run is not converging."
    )
