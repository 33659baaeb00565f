"""The kata's tests: what a correct training run achieves, checked in plain words.

Each test takes the `kata` fixture: kata.load("train.py") imports the learner's file
(or the solution's, with --kata-solution), kata.seed is the run's seed. Every test
runs under diagnostics.watch(): it fails when the learner's code has a fault that
diagnostics report, even if its asserts pass. Assert on the symptom the fault causes
and say in the message what is observed and what was expected, not how to fix it
(the hints do that).
"""


def test_the_training_loss_falls(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    losses = result["losses"]
    assert losses[-1] < 0.5 * losses[0], (
        f"The training loss went from {losses[0]:.3g} to {losses[-1]:.3g} in "
        f"{len(losses)} epochs; it should at least halve."
    )
