"""Digits, MLP, SGD with a warm-up into a cosine: the schedule must run at its own granularity."""

TARGET_ACCURACY = 0.9


def _run(kata):
    train = kata.load("train.py")
    return train, train.train(seed=kata.seed)


def test_the_warmup_reaches_the_full_learning_rate_within_its_steps(kata):
    train, result = _run(kata)
    lrs, warmup = result["lrs"], train.WARMUP_STEPS
    peak_step = max(range(len(lrs)), key=lrs.__getitem__)
    assert abs(max(lrs) - train.LR) < 1e-3 * train.LR and peak_step <= warmup + 1, (
        f"The learning rate peaks at {max(lrs):.4f} at optimizer step {peak_step} of "
        f"{len(lrs)}; the warm-up should reach LR = {train.LR} after WARMUP_STEPS = {warmup} "
        f"steps. Learning rates of the first {warmup + 3} steps: "
        f"{', '.join(f'{v:.4f}' for v in lrs[: warmup + 3])}."
    )


def test_the_cosine_decays_to_near_zero_by_the_last_step(kata):
    train, result = _run(kata)
    lrs = result["lrs"]
    assert lrs[-1] < 0.05 * train.LR, (
        f"The last optimizer step ran at lr {lrs[-1]:.4f}; the cosine should have brought it "
        f"near zero by the end of training (peak LR {train.LR})."
    )
    half = lrs[len(lrs) // 2]
    assert 0.2 * train.LR < half < 0.8 * train.LR, (
        f"Halfway through training the learning rate is {half:.4f}; a warm-up of a few steps "
        f"then a cosine over the rest puts it near half of {train.LR} there."
    )


def test_the_model_learns_within_the_epoch_budget(kata):
    _, result = _run(kata)
    accuracy = result["val_accuracy"][-1]
    assert accuracy >= TARGET_ACCURACY, (
        f"After {len(result['val_accuracy'])} epochs the validation accuracy is {accuracy:.1%}; "
        f"the target is {TARGET_ACCURACY:.0%}."
    )
