import torch


def _record_modes_of_training_batches(model):
    """Note, for every forward that builds a graph (a training batch), the mode of each layer."""
    modes = []

    def note(module, args):
        if torch.is_grad_enabled():
            modes.append({name: m.training for name, m in module.named_modules()})

    return modes, model.register_forward_pre_hook(note)


def test_every_training_epoch_runs_in_training_mode(kata):
    train = kata.load("train.py")
    trainer = train.build_trainer(seed=kata.seed)
    modes, handle = _record_modes_of_training_batches(trainer.model)
    epochs = 3
    try:
        trainer.fit(epochs)
    finally:
        handle.remove()

    per_epoch = len(trainer.train_loader)
    bad_epochs = sorted(
        {i // per_epoch + 1 for i, layers in enumerate(modes) if not all(layers.values())}
    )
    assert len(modes) == epochs * per_epoch, (
        f"Expected {epochs * per_epoch} training batches ({epochs} epochs of {per_epoch}), "
        f"saw {len(modes)}."
    )
    assert not bad_epochs, (
        f"Epoch(s) {bad_epochs} of {epochs} trained with the model in eval mode: dropout was off "
        f"and BatchNorm used its frozen running statistics instead of learning them. validate() "
        f"switches the model to eval mode, and nothing switches it back before the next epoch's "
        f"batches."
    )


def test_batchnorm_statistics_keep_learning_after_the_first_validation(kata):
    train = kata.load("train.py")
    trainer = train.build_trainer(seed=kata.seed)
    bn = trainer.model.features[1]
    seen_at_first_validation = []

    def note(module, args):
        if not torch.is_grad_enabled() and not seen_at_first_validation:
            seen_at_first_validation.append(bn.running_mean.clone())

    handle = trainer.model.register_forward_pre_hook(note)
    try:
        trainer.fit(2)
    finally:
        handle.remove()

    assert not torch.equal(seen_at_first_validation[0], bn.running_mean), (
        "The whole second epoch of training left BatchNorm's running mean exactly as it was at "
        "the first validation: the model trained that epoch in eval mode, so BatchNorm stopped "
        "tracking the statistics of the data it is trained on (and dropout was off too)."
    )


def test_validation_runs_in_eval_mode(kata):
    train = kata.load("train.py")
    trainer = train.build_trainer(seed=kata.seed)
    modes = []

    def note(module, args):
        if not torch.is_grad_enabled():
            modes.append(not any(m.training for m in module.modules()))

    handle = trainer.model.register_forward_pre_hook(note)
    try:
        trainer.fit(2)
    finally:
        handle.remove()

    assert modes and all(modes), (
        f"{modes.count(False)} of the {len(modes)} validation batches ran with layers in "
        f"training mode: dropout dropped units and BatchNorm normalised with the batch's own "
        f"statistics (and learned them), so the validation accuracy was not the model's. "
        f"validate() needs eval mode; it is the training epochs that must get training mode "
        f"back."
    )
