from torch import nn

TARGET_MSE = 0.15


def test_training_runs_to_the_end_and_fits_the_data(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    assert result["val_mse"] < TARGET_MSE, (
        f"Validation MSE is {result['val_mse']:.4f}; this model reaches {TARGET_MSE} on the "
        f"regression data."
    )


def test_every_training_batch_holds_more_than_one_row(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    sizes = [len(x) for x, _ in result["loader"]]
    assert min(sizes) > 1, (
        f"The training loader yields batches of sizes {sizes}. In training mode BatchNorm "
        f"normalises each feature with the mean and variance of the batch, which a single row "
        f"does not have."
    )


def test_the_model_keeps_its_batchnorm_layers(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    norms = [m for m in result["model"].modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == 2, (
        f"The model has {len(norms)} BatchNorm1d layers instead of its 2. BatchNorm is not "
        f"the problem: the batches fed to it are."
    )
