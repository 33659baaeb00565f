def test_the_loss_at_least_halves(kata):
    losses = kata.load("train.py").train(seed=kata.seed)["losses"]
    assert losses[-1] < losses[0] / 2, (
        f"The loss went from {losses[0]:.3g} to {losses[-1]:.3g}: it should at least halve "
        "in 40 steps. The steps are too small to learn anything."
    )
