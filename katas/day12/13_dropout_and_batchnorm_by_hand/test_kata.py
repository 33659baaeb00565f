"""Dropout and BatchNorm1d written by hand, compared with nn.Dropout and nn.BatchNorm1d."""

import torch
from torch import nn

TOLERANCE = 1e-6
DRAWS = 200


def _pair(train, features, *, seed, momentum=0.1):
    """The hand-written BatchNorm1d and torch's, with the same random affine parameters."""
    gen = torch.Generator().manual_seed(seed)
    mine = train.BatchNorm1d(features, momentum=momentum).double()
    ref = nn.BatchNorm1d(features, momentum=momentum).double()
    with torch.no_grad():
        for module in (mine, ref):
            module.weight.copy_(1.0 + 0.5 * torch.randn(features, generator=gen.manual_seed(seed)))
            module.bias.copy_(torch.randn(features, generator=gen.manual_seed(seed + 1)))
    return mine, ref, torch.Generator().manual_seed(seed + 2)


def _training_pass(module, x):
    """A forward and backward pass in training mode, as a training step makes; the output."""
    out = module(x)
    (out**2).mean().backward()
    return out.detach()


def _gap(a, b):
    return (a - b).abs().max().item()


# -- dropout -------------------------------------------------------------------------------------
def test_dropout_zeroes_about_p_and_scales_the_survivors_by_one_over_one_minus_p(kata):
    train = kata.load("train.py")
    for p in (0.2, 0.5):
        layer = train.Dropout(p).train()
        x = torch.rand(200_000) + 0.5
        out = layer(x)
        dropped = (out == 0).double().mean().item()
        assert abs(dropped - p) < 0.01, (
            f"With p={p} the layer zeroed {dropped:.1%} of the activations in training mode; "
            f"it should zero about {p:.0%}, with a fresh random mask shaped like the input."
        )
        kept = out != 0
        ratio = (out[kept] / x[kept]).unique()
        assert torch.allclose(ratio, torch.tensor(1 / (1 - p)), atol=1e-5), (
            f"With p={p} the surviving activations were multiplied by {ratio.tolist()[:3]}; "
            f"nn.Dropout multiplies them by 1/(1-p) = {1 / (1 - p):.4f} so that each "
            f"activation keeps its expected value."
        )


def test_dropout_draws_a_new_mask_at_every_call(kata):
    train = kata.load("train.py")
    layer = train.Dropout(0.5).train()
    x = torch.ones(1000)
    assert not torch.equal(layer(x), layer(x)), (
        "Two calls in training mode dropped the same activations: draw a new mask every call."
    )


def test_dropout_is_the_identity_in_eval_mode_and_with_p_zero(kata):
    train = kata.load("train.py")
    x = torch.randn(64, 32)
    assert torch.equal(train.Dropout(0.5).eval()(x), x), (
        "In eval mode the layer changed its input; as nn.Dropout, it must return it unchanged."
    )
    assert torch.equal(train.Dropout(0.0).train()(x), x), (
        "With p=0 the layer changed its input in training mode; nothing should be dropped."
    )


def test_dropout_keeps_the_expected_value_of_each_activation(kata):
    train = kata.load("train.py")
    layer = train.Dropout(0.5).train()
    x = torch.rand(64, 32) + 0.5
    mean = torch.stack([layer(x) for _ in range(DRAWS)]).mean(dim=0)
    ratio = (mean.mean() / x.mean()).item()
    assert abs(ratio - 1.0) < 0.03, (
        f"Averaged over {DRAWS} training-mode calls, the output is {ratio:.2f} times the "
        f"input; it should be 1.00, as in eval mode, where nothing is dropped."
    )


# -- batch norm ----------------------------------------------------------------------------------
def test_batchnorm_matches_torch_in_training_mode_with_its_running_statistics(kata):
    train = kata.load("train.py")
    for shape, momentum in (((32, 6), 0.1), ((8, 4, 5), 0.3)):
        mine, ref, gen = _pair(train, shape[1], seed=kata.seed, momentum=momentum)
        mine.train(), ref.train()
        for step in range(1, 6):
            x = 3.0 + 2.0 * torch.randn(*shape, generator=gen, dtype=torch.float64)
            out_gap = _gap(_training_pass(mine, x), _training_pass(ref, x))
            assert out_gap < TOLERANCE, (
                f"Input {shape}, training mode, batch {step}: the output differs from "
                f"nn.BatchNorm1d's by {out_gap:.2e}. Normalize each feature with the batch's "
                f"mean and biased variance (over every dimension but dim 1), add eps inside "
                f"the square root, then scale by weight and shift by bias."
            )
            for name in ("running_mean", "running_var"):
                gap = _gap(getattr(mine, name), getattr(ref, name))
                assert gap < TOLERANCE, (
                    f"Input {shape}, momentum {momentum}, after batch {step}: {name} differs "
                    f"from nn.BatchNorm1d's by {gap:.2e}. PyTorch's momentum weighs the new "
                    f"batch: running = (1 - momentum) * running + momentum * batch value, and "
                    f"running_var uses the unbiased variance (divided by n - 1)."
                )


def test_batchnorm_matches_torch_in_eval_mode_and_leaves_its_statistics_alone(kata):
    train = kata.load("train.py")
    mine, ref, gen = _pair(train, 6, seed=kata.seed)
    for _ in range(4):
        x = 1.0 + 2.0 * torch.randn(32, 6, generator=gen, dtype=torch.float64)
        _training_pass(mine.train(), x), _training_pass(ref.train(), x)
    mine.eval(), ref.eval()
    before = mine.running_mean.clone(), mine.running_var.clone()
    x = -2.0 + 0.5 * torch.randn(5, 6, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        gap = _gap(mine(x), ref(x))
    assert gap < TOLERANCE, (
        f"In eval mode the output differs from nn.BatchNorm1d's by {gap:.2e}: at evaluation "
        f"normalize with the running statistics, not with the batch's own."
    )
    assert torch.equal(before[0], mine.running_mean) and torch.equal(before[1], mine.running_var), (
        "A forward pass in eval mode changed the running statistics; eval mode only reads them."
    )


def test_batchnorm_passes_the_same_gradients_as_torch(kata):
    train = kata.load("train.py")
    mine, ref, gen = _pair(train, 5, seed=kata.seed)
    x = torch.randn(16, 5, generator=gen, dtype=torch.float64)
    grads = []
    for module in (mine.train(), ref.train()):
        xi = x.clone().requires_grad_(True)
        (module(xi) ** 3).sum().backward()
        grads.append((xi.grad, module.weight.grad, module.bias.grad))
    for name, a, b in zip(("input", "weight", "bias"), *grads, strict=True):
        assert a is not None, f"No gradient reached the {name}: keep the forward differentiable."
        gap = _gap(a, b)
        assert gap < TOLERANCE, (
            f"The gradient of the {name} differs from nn.BatchNorm1d's by {gap:.2e}. In "
            f"training mode the batch mean and variance are part of the graph: do not detach "
            f"them (only the running statistics' update is outside autograd)."
        )


def test_the_classifier_built_from_both_layers_learns_the_digits(kata):
    train = kata.load("train.py")
    accuracy = train.train(seed=kata.seed)["val_accuracy"]
    assert accuracy > 0.9, (
        f"The classifier with the hand-written layers reaches {accuracy:.1%} validation "
        f"accuracy; the same model with nn.BatchNorm1d and nn.Dropout reaches over 90%."
    )
