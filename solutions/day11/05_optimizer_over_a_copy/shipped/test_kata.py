"""Flattened digits with a two-layer network: the trained model's own weights must move."""

import contextlib

from torch.nn.modules.module import register_module_forward_pre_hook

TARGET_ACCURACY = 0.85


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


def test_the_weights_of_the_trained_model_move(kata):
    train = kata.load("train.py")
    with weights_at_first_forward() as seen:
        result = train.train(seed=kata.seed)
    model = result["model"]
    assert id(model) in seen, "The returned model never ran a forward pass."
    before = seen[id(model)]
    moved = {
        name: ((p.detach() - before[name]).norm() / before[name].norm()).item()
        for name, p in model.named_parameters()
    }
    still = [name for name, change in moved.items() if change < 1e-3]
    assert not still, (
        f"The model that makes the predictions trained for {train.EPOCHS} epochs, yet these "
        f"of its parameters did not move: {', '.join(still)}. Its gradients are computed at "
        f"every batch, but nothing applies them to its weights."
    )


def test_the_network_reads_the_validation_digits(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["val_accuracy"]
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy is {accuracy:.1%} (chance is 10%); the network should reach "
        f"{TARGET_ACCURACY:.0%}."
    )
