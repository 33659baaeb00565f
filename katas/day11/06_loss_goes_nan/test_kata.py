"""Gaussian negative log-likelihood, full batch: the loss must stay finite and go low."""

import math

TARGET_NLL = -1.0
TARGET_MSE = 0.2


def test_the_loss_stays_finite_at_every_step(kata):
    losses = kata.load("train.py").train(seed=kata.seed)["losses"]
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    assert bad is None, (
        f"The loss became {losses[bad]} at step {bad + 1} "
        f"(the steps before: {', '.join(f'{v:.4g}' for v in losses[max(bad - 3, 0) : bad])}); "
        f"after that every weight is NaN and nothing more is learned. Some optimizer step "
        f"jumped so far that the loss overflowed."
    )


def test_the_negative_log_likelihood_falls_below_the_target(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    final = result["losses"][-1]
    assert math.isfinite(final) and final < TARGET_NLL, (
        f"The final negative log-likelihood is {final:.4g}; it should end below {TARGET_NLL} "
        f"after {len(result['losses'])} steps (it starts near 0.8)."
    )
    assert result["val_mse"] < TARGET_MSE, (
        f"The predicted means have a validation MSE of {result['val_mse']:.4g}; they should "
        f"reach {TARGET_MSE}."
    )
