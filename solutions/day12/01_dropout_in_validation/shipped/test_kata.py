import math

import torch


def test_validation_gives_the_same_answer_every_time(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    model, loader, loss_fn = result["model"], result["val_loader"], result["loss_fn"]

    first = train.evaluate(model, loader, loss_fn)
    second = train.evaluate(model, loader, loss_fn)

    assert first == second, (
        f"Two validation passes over the same data with the same weights gave different results: "
        f"loss {first[0]:.4f} then {second[0]:.4f}, accuracy {first[1]:.3f} then {second[1]:.3f}. "
        f"Something random is still switched on while evaluate() runs: dropout keeps zeroing a "
        f"different half of the hidden units on every call, so the score you log is noisy and "
        f"lower than the model's real score."
    )


def test_validation_scores_the_model_with_dropout_switched_off(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    model, loader, loss_fn = result["model"], result["val_loader"], result["loss_fn"]
    model.train()  # as it is after a training epoch

    reported = train.evaluate(model, loader, loss_fn)

    model.eval()
    with torch.no_grad():
        x, y = loader.dataset.tensors
        logits = model(x)
        true = (loss_fn(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item())
    assert math.isclose(reported[0], true[0], rel_tol=1e-4) and math.isclose(
        reported[1], true[1], abs_tol=1e-6
    ), (
        f"evaluate() reports loss {reported[0]:.4f} and accuracy {reported[1]:.3f}; the model "
        f"with every unit taking part (dropout off) scores loss {true[0]:.4f} and accuracy "
        f"{true[1]:.3f}. Validation must measure the model as it will be used, not a randomly "
        f"thinned version of it."
    )


def test_dropout_still_regularises_training(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    model, (x, _) = result["model"], result["val_loader"].dataset.tensors

    model.train()
    # Two training forward passes; the backward uses their outputs, as a training step would.
    first, second = model(x), model(x)
    (first - second).pow(2).mean().backward()
    assert not torch.equal(first, second), (
        "In training mode two forward passes on the same inputs gave identical outputs: the "
        "model no longer drops any unit while it trains. Keep the dropout for training; "
        "switch it off for validation only."
    )


def test_the_trained_model_is_accurate_on_validation_data(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    val_acc = result["history"][-1]["val_acc"]

    assert val_acc >= 0.9, (
        f"After training, validation accuracy is {val_acc:.3f}; a model this size reaches 0.9 on "
        f"these digits when it is evaluated with dropout switched off."
    )
