"""Digits, a normalized MLP trained on batches of two: a normalization that works per example."""

import torch
from torch import nn

TARGET_ACCURACY = 0.8  # normalized per example (LayerNorm, GroupNorm), 85% to 93% in one epoch
NORMS = (nn.BatchNorm1d, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.InstanceNorm1d)


def test_the_network_stays_normalized(kata):
    model = kata.load("train.py").make_model()
    found = [type(m).__name__ for m in model.modules() if isinstance(m, NORMS)]
    assert len(found) >= 2, (
        f"The model has {len(found)} normalization layers ({', '.join(found) or 'none'}); the "
        f"point of the design is a normalized hidden layer after each hidden Linear. Keep "
        f"one, and choose one that works on batches of two."
    )


def test_an_example_is_normalized_the_same_whatever_its_batch_mate(kata):
    train = kata.load("train.py")
    torch.manual_seed(kata.seed)
    model = train.make_model().train()
    x = torch.rand(3, 64)
    with_first = model(x[[0, 1]])[0].detach()  # a training step's forward pass
    with_second = model(x[[0, 2]])[0].detach()
    change = (with_first - with_second).abs().max().item()
    assert change < 1e-5, (
        f"In training mode, the same image gets logits that differ by up to {change:.3f} when "
        f"the other image in its batch of {train.BATCH_SIZE} changes: each layer normalizes "
        f"it with statistics of two examples, a different noise at every step, and evaluation "
        f"then uses running averages of that noise."
    )


def test_the_validation_accuracy_is_high(kata):
    train = kata.load("train.py")
    accuracies = train.train(seed=kata.seed)["val_accuracies"]
    shown = ", ".join(f"{a:.1%}" for a in accuracies)
    assert accuracies[-1] >= TARGET_ACCURACY, (
        f"The validation accuracy ends at {accuracies[-1]:.1%} (per epoch: {shown}); the same "
        f"network normalized per example reaches {TARGET_ACCURACY:.0%} or more at batch size "
        f"{train.BATCH_SIZE}."
    )
