import math


def test_the_restored_model_is_the_best_epochs_model(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    stopper, data, history = result["stopper"], result["data"], result["history"]

    restored = train.validation_loss(result["model"], data.x_val, data.y_val)

    assert math.isclose(restored, stopper.best_loss, rel_tol=1e-5, abs_tol=1e-7), (
        f"Early stopping reports its best epoch as {stopper.best_epoch + 1} with validation loss "
        f"{stopper.best_loss:.4f}, but the model it restored scores {restored:.4f}: that is the "
        f"loss of the last epoch ({history[-1]:.4f}), not of the best one. The weights that "
        f"were 'kept' changed after they were kept, so restoring them restored the latest "
        f"weights."
    )


def test_early_stopping_picks_the_lowest_validation_loss(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    stopper, history = result["stopper"], result["history"]

    best = min(range(len(history)), key=history.__getitem__)
    assert stopper.best_epoch == best, (
        f"The validation loss was lowest at epoch {best + 1} ({history[best]:.4f}), but early "
        f"stopping chose epoch {stopper.best_epoch + 1} (epochs counted from 1)."
    )
    assert len(history) > stopper.best_epoch + 1, (
        "Training ended on its best epoch, so this run cannot show whether the best weights "
        "are restored; the data set is meant to overfit well before the last epoch."
    )
