"""Flattened digits with a two-layer network: the trained model's own weights must move."""

import contextlib
import math

import torch

from torch.nn.modules.module import register_module_forward_pre_hook

TARGET_ACCURACY = 0.85


def _figures(travel):
    return ", ".join(f"{name} {v:.1%}" for name, v in travel.items()) or "none"


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


def test_the_weights_moved_figures_compare_the_trained_model_with_its_start(kata):
    train = kata.load("train.py")
    with weights_at_first_forward() as seen:
        result = train.train(seed=kata.seed)
    model, initial = result["model"], result["initial"]
    assert id(model) in seen, "The returned model never ran a forward pass."
    before = seen[id(model)]
    assert initial is not model, (
        "result['initial'] is the trained model itself, so the 'weights moved' figures "
        f"compare the model with itself: {_figures(result['travel'])}. Keep the starting "
        "weights in a model of their own, and train the other one."
    )
    kept = dict(initial.named_parameters())
    changed = [name for name, p in before.items() if not torch.equal(kept[name].detach(), p)]
    assert not changed, (
        f"result['initial'] should hold the weights the returned model started from, but "
        f"these of its parameters differ from them: {', '.join(changed)}. The 'weights moved' "
        f"figures ({_figures(result['travel'])}) are measured from the wrong starting point."
    )
    for name, reported in result["travel"].items():
        start = before[name]
        true = ((model.get_parameter(name).detach() - start).norm() / start.norm()).item()
        assert math.isclose(reported, true, rel_tol=1e-4, abs_tol=1e-6), (
            f"train() reports that {name} moved {reported:.1%} from its starting value; it "
            f"moved {true:.1%}. The figures must compare the trained model with its own start."
        )


def test_the_network_reads_the_validation_digits(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["val_accuracy"]
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy is {accuracy:.1%} (chance is 10%); the network should reach "
        f"{TARGET_ACCURACY:.0%}."
    )
