import math

from torch import nn


def _argmin(values):
    return min(range(len(values)), key=values.__getitem__)


def _losses(values):
    return ", ".join(f"{v:.3f}" for v in values)


def test_the_kept_epoch_is_the_one_with_the_lowest_validation_loss(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    val, chosen = result["val_losses"], result["best_epoch"]
    best = _argmin(val)

    assert chosen == best, (
        f"Early stopping kept epoch {chosen + 1}, whose validation loss is {val[chosen]:.3f}, "
        f"but the validation loss was lowest at epoch {best + 1} ({val[best]:.3f}). "
        f"Validation losses by epoch: {_losses(val)}. The training loss almost always keeps "
        f"falling, because the model can memorise its own training data; what early stopping "
        f"must watch is how well the model does on data it does not train on."
    )


def test_the_returned_model_scores_the_lowest_validation_loss(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    data, val = result["data"], result["val_losses"]

    restored = train.evaluate(result["model"], data.x_val, data.y_val, nn.CrossEntropyLoss())

    assert math.isclose(restored, min(val), rel_tol=1e-5, abs_tol=1e-7), (
        f"The model fit() returns has validation loss {restored:.4f}; the best epoch had "
        f"{min(val):.4f}. fit() should hand back the weights of the epoch with the lowest "
        f"validation loss."
    )


def test_training_stops_once_the_validation_loss_stops_improving(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    val = result["val_losses"]
    best, patience = _argmin(val), train.PATIENCE

    assert len(val) <= best + patience + 1, (
        f"The validation loss was lowest at epoch {best + 1}, yet training went on to epoch "
        f"{len(val)}, more than PATIENCE={patience} epochs later. Early stopping should "
        f"stop once the validation loss has not improved for {patience} epochs in a row."
    )
    expected = min(best + patience + 1, train.MAX_EPOCHS)
    assert len(val) >= expected, (
        f"Training stopped after epoch {len(val)}, only {len(val) - 1 - best} epochs after "
        f"the lowest validation loss so far (epoch {best + 1}); with PATIENCE={patience} it should "
        f"go on until {patience} epochs in a row have not improved on the best validation "
        f"loss. Validation losses by epoch: {_losses(val)}. An improvement is a validation "
        f"loss below the best validation loss, not below some other number."
    )
