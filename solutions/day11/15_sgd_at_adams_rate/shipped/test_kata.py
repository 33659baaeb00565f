"""Digits, MLP, SGD with momentum: the learning rate must suit the optimizer."""

import torch

TARGET_ACCURACY = 0.9
CHANCE = 0.1


def test_the_baseline_still_uses_sgd_with_momentum(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed, config={**train.CONFIG, "epochs": 1})
    optimizer = result["optimizer"]
    assert type(optimizer) is torch.optim.SGD, (
        f"The baseline trains with {type(optimizer).__name__}; this run is the SGD-with-"
        f"momentum baseline. Keep the optimizer and make it learn."
    )
    momentum = optimizer.param_groups[0]["momentum"]
    assert momentum == 0.9, f"The baseline's momentum is {momentum}; the recipe says 0.9."


def test_the_model_learns_the_digits_within_the_epoch_budget(kata):
    train = kata.load("train.py")
    history = train.train(seed=kata.seed)["val_accuracy"]
    assert history[-1] >= TARGET_ACCURACY, (
        f"After {len(history)} epochs the validation accuracy is {history[-1]:.1%} "
        f"(per epoch: {', '.join(f'{a:.0%}' for a in history)}); chance is {CHANCE:.0%} and "
        f"the target is {TARGET_ACCURACY:.0%}. The loss creeps down but the model has barely "
        f"moved from where it started."
    )
