"""A small CNN on the 8x8 digits: three epochs should be plenty to learn them."""

TARGET_LOSS = 0.4
TARGET_ACCURACY = 0.9


def test_training_loss_falls_below_the_target(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    losses = result["train_loss"]
    assert losses[-1] < TARGET_LOSS, (
        f"The training loss went {' -> '.join(f'{v:.3f}' for v in losses)}; it should end "
        f"below {TARGET_LOSS}. A loss that stays near ln(10) = 2.30 means the model is still "
        "guessing: its weights are not being updated."
    )


def test_the_cnn_reads_the_validation_digits(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["val_accuracy"][-1]
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy is {accuracy:.1%} (chance is 10%); the CNN "
        f"should reach {TARGET_ACCURACY:.0%}. The optimizer steps are not changing the weights."
    )
