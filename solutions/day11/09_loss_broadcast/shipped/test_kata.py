"""Regression on 8 features: predictions must fit the targets, and the reported MSE be true."""

import math

import torch

import kata_fixtures as fixtures

TARGET_MSE = 0.2


def true_validation_mse(model, seed):
    """The mean squared error of one prediction per validation sample."""
    data = fixtures.regression(seed=seed)
    model.eval()
    with torch.no_grad():
        predictions = model(data.x_val).reshape(-1)
    return ((predictions - data.y_val.reshape(-1)) ** 2).mean().item()


def test_the_predictions_fit_the_validation_targets(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    mse = true_validation_mse(result["model"], kata.seed)
    baseline = fixtures.regression(seed=kata.seed).y_val.var(unbiased=False).item()
    assert mse < TARGET_MSE, (
        f"The model's predictions have a validation MSE of {mse:.3f}; they should reach "
        f"{TARGET_MSE}. Predicting the mean target for every input would score {baseline:.3f}. "
        f"The training loss does not seem to compare each prediction with its own target."
    )


def test_the_validation_mse_the_loop_reports_is_the_true_one(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    reported = result["val_mse"][-1]
    true = true_validation_mse(result["model"], kata.seed)
    assert math.isclose(reported, true, rel_tol=1e-4), (
        f"The training loop reports a validation MSE of {reported:.4g}, but the model's "
        f"predictions have an MSE of {true:.4g} against their own targets: the validation "
        f"loss is computed over something other than one prediction per target."
    )
