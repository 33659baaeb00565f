import math


def test_the_loss_is_a_number(kata):
    losses = kata.load("train.py").train(seed=kata.seed)["losses"]
    assert math.isfinite(losses[-1]), "The loss is not a finite number."
