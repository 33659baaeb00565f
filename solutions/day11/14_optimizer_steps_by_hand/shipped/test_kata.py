"""SGD with momentum and Adam written by hand, compared with torch.optim step by step."""

import copy

import torch
from torch import nn

TOLERANCE = 1e-6
STEPS = 8


def _twin_trajectories(seed, make_mine, make_torch, *, frozen=False):
    """The largest gap between the hand-written and torch's optimizer after each step.

    Two identical float64 models see the same batches; one is trained by each optimizer.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2)).double()
    if frozen:
        model[0].bias.requires_grad_(False)  # a parameter with no gradient is left alone
    twin = copy.deepcopy(model)
    mine, ref = make_mine(model.parameters()), make_torch(twin.parameters())
    gaps = []
    for _ in range(STEPS):
        x = torch.randn(16, 5, generator=gen, dtype=torch.float64)
        y = torch.randn(16, 2, generator=gen, dtype=torch.float64)
        for net, opt in ((model, mine), (twin, ref)):
            opt.zero_grad()
            ((net(x) - y) ** 2).mean().backward()
            opt.step()
        gaps.append(
            max(
                (a - b).abs().max().item()
                for a, b in zip(model.parameters(), twin.parameters(), strict=True)
            )
        )
    return gaps


def _first_divergence(gaps):
    return next(((step, gap) for step, gap in enumerate(gaps, 1) if gap > TOLERANCE), None)


def test_sgd_with_momentum_moves_the_weights_exactly_as_torch_optim_sgd(kata):
    train = kata.load("train.py")
    for lr, momentum in ((0.1, 0.9), (0.05, 0.5), (0.1, 0.0)):
        gaps = _twin_trajectories(
            kata.seed,
            lambda p, lr=lr, m=momentum: train.SGDMomentum(p, lr=lr, momentum=m),
            lambda p, lr=lr, m=momentum: torch.optim.SGD(p, lr=lr, momentum=m),
        )
        off = _first_divergence(gaps)
        assert off is None, (
            f"With lr={lr} and momentum={momentum}, after step {off[0]} a weight differs from "
            f"torch.optim.SGD's by {off[1]:.2e} (tolerance {TOLERANCE:g}). The velocity starts "
            f"as the first gradient itself, then velocity = momentum * velocity + gradient, "
            f"and the weight moves by -lr * velocity."
        )


def test_adam_moves_the_weights_exactly_as_torch_optim_adam(kata):
    train = kata.load("train.py")
    for lr, betas in ((1e-2, (0.9, 0.999)), (3e-2, (0.8, 0.99))):
        gaps = _twin_trajectories(
            kata.seed,
            lambda p, lr=lr, b=betas: train.Adam(p, lr=lr, betas=b),
            lambda p, lr=lr, b=betas: torch.optim.Adam(p, lr=lr, betas=b),
        )
        off = _first_divergence(gaps)
        assert off is None, (
            f"With lr={lr} and betas={betas}, after step {off[0]} a weight differs from "
            f"torch.optim.Adam's by {off[1]:.2e} (tolerance {TOLERANCE:g}). Check the running "
            f"means (beta1 for the gradient, beta2 for its square), the bias correction by "
            f"1 - beta ** t with t counted from 1, and eps added after the square root."
        )


def test_adams_first_step_moves_each_weight_by_about_the_learning_rate(kata):
    train = kata.load("train.py")
    weight = nn.Parameter(torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))
    opt = train.Adam([weight], lr=0.01)
    (weight * torch.tensor([5.0, -0.01, 300.0], dtype=torch.float64)).sum().backward()
    opt.step()
    moved = (weight.detach() - torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)).abs()
    assert torch.allclose(moved, torch.full_like(moved, 0.01), rtol=1e-3), (
        f"After one step with lr=0.01 the weights moved by {moved.tolist()}; with bias "
        f"correction Adam's first step is about lr for every weight, whatever the size of its "
        f"gradient (m_hat / sqrt(v_hat) = g / |g|). Without the correction, m and v start at "
        f"zero and the first steps are off by (1 - beta1) / sqrt(1 - beta2), about 3x."
    )


def test_a_parameter_without_a_gradient_is_left_alone(kata):
    train = kata.load("train.py")
    for name, mine, ref in (
        (
            "SGDMomentum",
            lambda p: train.SGDMomentum(p, lr=0.1),
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        ),
        ("Adam", lambda p: train.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    ):
        off = _first_divergence(_twin_trajectories(kata.seed, mine, ref, frozen=True))
        assert off is None, (
            f"{name}: with a frozen parameter (requires_grad=False, so .grad is None) the "
            f"weights differ from torch's after step {off[0]} by {off[1]:.2e}; skip a "
            f"parameter whose .grad is None."
        )


def test_training_with_each_optimizer_lowers_the_validation_loss(kata):
    train = kata.load("train.py")
    for name in ("sgd", "adam"):
        losses = train.train(seed=kata.seed, optimizer=name)["val_losses"]
        assert losses[-1] < 0.5 * losses[0], (
            f"Trained with the hand-written {name}, the validation loss went from "
            f"{losses[0]:.3f} to {losses[-1]:.3f}; it should at least halve."
        )
