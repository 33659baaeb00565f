from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook

import kata_fixtures as fixtures

TARGET_MSE = 0.15


def test_training_runs_to_the_end_and_fits_the_data(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    assert result["val_mse"] < TARGET_MSE, (
        f"Validation MSE is {result['val_mse']:.4f}; this model reaches {TARGET_MSE} on the "
        f"regression data."
    )


class _DataOfAnotherSize:
    """The fixtures module, with regression data sets of a chosen size."""

    def __init__(self, n):
        self.n = n

    def __getattr__(self, name):
        return getattr(fixtures, name)

    def regression(self, n=512, **kwargs):
        return fixtures.regression(n=self.n, **kwargs)


def _size_leaving_one_row(batch_size, seed):
    """A data set size whose training split leaves a last batch of exactly one row."""
    n = 300
    while len(fixtures.regression(n=n, seed=seed).x_train) % batch_size != 1:
        n += 1
    return n


def test_batchnorm_never_trains_on_a_batch_of_one_whatever_the_data_size(kata):
    train = kata.load("train.py")
    n = _size_leaving_one_row(train.BATCH_SIZE, kata.seed)
    rows = len(fixtures.regression(n=n, seed=kata.seed).x_train)
    sizes = []

    def note(module, args):
        if isinstance(module, nn.BatchNorm1d) and module.training:
            sizes.append(len(args[0]))

    train.fixtures = _DataOfAnotherSize(n)
    handle = register_module_forward_pre_hook(note)
    try:
        train.train(seed=kata.seed)
    except ValueError as exc:
        raise AssertionError(
            f"With a data set of {rows} training rows ({rows} = "
            f"{rows // train.BATCH_SIZE} * {train.BATCH_SIZE} + 1), training stopped: {exc}. "
            f"In training mode BatchNorm normalises each feature with the mean and variance of "
            f"the batch, which a single row does not have; a batch size that happens to divide "
            f"one data set does not protect the next one."
        ) from None
    finally:
        handle.remove()
        train.fixtures = fixtures
    assert sizes and min(sizes) > 1, (
        f"With a data set of {rows} training rows, BatchNorm trained on batches of "
        f"{sorted(set(sizes))} rows. In training mode it normalises each feature with the mean "
        f"and variance of the batch, which a single row does not have."
    )


def test_the_model_keeps_its_batchnorm_layers(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    norms = [m for m in result["model"].modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == 2, (
        f"The model has {len(norms)} BatchNorm1d layers instead of its 2. BatchNorm is not "
        f"the problem: the batches fed to it are."
    )


