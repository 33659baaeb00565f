"""A line is easy to fit: the loss must fall to almost nothing."""


def test_the_line_is_fitted(kata):
    losses = kata.load("train.py").train(seed=kata.seed)["losses"]
    assert losses[-1] < 1e-3, f"The final loss is {losses[-1]:.3g}; it should fall below 0.001."
