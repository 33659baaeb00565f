import torch
from torch import nn


def _batchnorm_buffers(model):
    return {
        name: buffer.clone()
        for name, buffer in model.named_buffers()
        if name.endswith(("running_mean", "running_var", "num_batches_tracked"))
    }


def test_validation_leaves_batchnorm_running_statistics_alone(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    model = result["model"]
    model.train()  # as it is when fit() calls evaluate() in the middle of an epoch
    before = _batchnorm_buffers(model)

    train.evaluate(model, result["val_loader"], nn.CrossEntropyLoss())

    after = _batchnorm_buffers(model)
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    assert not changed, (
        f"One validation pass changed BatchNorm's running statistics ({', '.join(changed)}). "
        f"In training mode every forward pass, even under torch.no_grad(), folds the batch's "
        f"mean and variance into the running averages, so the model quietly learns statistics "
        f"from the validation data that it will later use for its predictions."
    )


def test_training_carries_on_in_training_mode_after_a_validation_check(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    model = result["model"]
    model.train()

    train.evaluate(model, result["val_loader"], nn.CrossEntropyLoss())

    assert model.training, (
        "evaluate() runs in the middle of an epoch and hands the model back in eval mode, so "
        "the rest of the epoch would train with BatchNorm frozen. Leave the model in the mode "
        "it was in when evaluate() was called."
    )


def test_the_model_keeps_its_batchnorm_layers(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    norms = [m for m in result["model"].modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == 2, (
        f"The model has {len(norms)} BatchNorm1d layers instead of its 2. BatchNorm is not "
        f"the problem: the mode it is in while evaluate() runs is."
    )


def test_the_model_separates_the_moons(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["log"][-1]["val_acc"]
    assert accuracy >= 0.95, (
        f"The last validation check scored {accuracy:.1%}; this model reaches 95% on the two "
        f"moons when validation does not disturb its BatchNorm statistics."
    )
