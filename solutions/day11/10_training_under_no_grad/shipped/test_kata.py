"""Tiny bar images with the small CNN: a shared run_epoch() must really train."""

import contextlib

import torch
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

TARGET_LOSS = 0.2
TARGET_ACCURACY = 0.95


@contextlib.contextmanager
def weights_at_first_forward():
    """Keep a copy of every module's parameters as they were at its first forward call."""
    seen = {}

    def snapshot(module, args):
        if id(module) not in seen:
            seen[id(module)] = {n: p.detach().clone() for n, p in module.named_parameters()}

    handle = register_module_forward_pre_hook(snapshot)
    try:
        yield seen
    finally:
        handle.remove()


def test_training_changes_the_weights_of_the_cnn(kata):
    with weights_at_first_forward() as seen:
        result = kata.load("train.py").train(seed=kata.seed)
    model = result["model"]
    assert id(model) in seen, "The returned model never ran a forward pass."
    before = seen[id(model)]
    still = [
        name
        for name, p in model.named_parameters()
        if (p.detach() - before[name]).abs().max().item() == 0.0
    ]
    assert not still, (
        f"After {len(result['train_loss'])} epochs of training, "
        f"{len(still)} of the CNN's {len(before)} parameter tensors are exactly as they started "
        f"({', '.join(still[:4])}{', ...' if len(still) > 4 else ''}): no gradient ever "
        f"reached them."
    )


def test_the_training_loss_falls_and_the_bars_are_recognised(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    losses, accuracy = result["train_loss"], result["val_accuracy"][-1]
    assert losses[-1] < TARGET_LOSS, (
        f"The training loss went {' -> '.join(f'{v:.3f}' for v in losses)}; it should end "
        f"below {TARGET_LOSS}. A loss stuck near ln(4) = 1.39 means the CNN is still guessing."
    )
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy is {accuracy:.1%} (chance is 25%); the CNN should reach "
        f"{TARGET_ACCURACY:.0%}."
    )


def test_evaluating_with_run_epoch_records_no_graph(kata):
    train = kata.load("train.py")
    torch.manual_seed(kata.seed)
    data = fixtures.tiny_images(seed=kata.seed)
    model = fixtures.SmallCNN(in_channels=3, classes=4, width=8)
    recorded = []
    handle = register_module_forward_hook(
        lambda module, args, output: recorded.append(module is model and output.requires_grad)
    )
    try:
        train.run_epoch(model, DataLoader(data.val_set(), batch_size=128))
    finally:
        handle.remove()
    graphs = sum(recorded)
    assert graphs == 0, (
        f"run_epoch() without an optimizer only evaluates, yet {graphs} of its forward passes "
        f"recorded an autograd graph that no backward() will ever use: evaluation should run "
        f"with gradient tracking off, training with it on."
    )
