"""Tiny bar images, MLP, Adam-family optimizer with decoupled weight decay on the weights."""

import torch

TARGET_ACCURACY = 0.95


def one_step_with_a_zero_gradient(train):
    """One optimizer step on a layer whose loss gradient is exactly zero: only decay acts."""
    layer = torch.nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.bias.fill_(1.0)
    optimizer = train.configure_optimizer(layer, train.CONFIG)
    optimizer.zero_grad()
    (0.0 * layer(torch.ones(2, 4))).sum().backward()
    optimizer.step()
    return layer


def test_weight_decay_shrinks_every_weight_by_the_same_factor(kata):
    train = kata.load("train.py")
    lr, decay = train.CONFIG["lr"], train.CONFIG["weight_decay"]
    assert decay > 0, (
        f"CONFIG['weight_decay'] is {decay}: the weights must still be decayed, decoupled."
    )
    layer = one_step_with_a_zero_gradient(train)
    expected = 1.0 - lr * decay
    got = layer.weight.detach()
    shrink = 1.0 - got.mean().item()
    assert torch.allclose(got, torch.full_like(got, expected), rtol=0, atol=1e-7), (
        f"With a zero loss gradient, one step took each weight from 1.0 to {got.mean():.6f}, "
        f"a shrink of {shrink:.3g}. Decoupled weight decay multiplies every weight by "
        f"(1 - lr * weight_decay) = {expected:.6f} whatever the gradients, a shrink of "
        f"{lr * decay:.3g} ({shrink / (lr * decay):.3g} times less than observed). A decay added "
        f"to the gradient goes through Adam's adaptive step, which rescales it per weight."
    )
    bias = layer.bias.detach()
    assert torch.equal(bias, torch.ones_like(bias)), (
        f"With a zero loss gradient, one step moved the biases from 1.0 to {bias.mean():.6f}: "
        f"biases are meant to get no weight decay (their parameter group has weight_decay=0)."
    )


def test_the_bars_are_recognised_on_validation_images(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["val_accuracy"]
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy is {accuracy:.1%}; the MLP should reach {TARGET_ACCURACY:.0%}."
    )
