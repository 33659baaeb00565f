import torch

TARGET_MSE = 0.08


def test_predictions_in_eval_mode_are_the_same_every_time(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    x_val = result["data"].x_val

    first = train.predict(result["model"], x_val)
    second = train.predict(result["model"], x_val)

    differ = (first != second).sum().item()
    assert differ == 0, (
        f"predict() puts the model in eval mode, yet two calls on the same inputs gave "
        f"{differ} different predictions out of {len(first)}. Some dropout in the model keeps "
        f"dropping units after model.eval(): a layer that is not an nn.Dropout module never "
        f"hears about eval mode unless forward() passes the mode on."
    )


def test_dropout_is_still_active_while_training(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    model, x_val = result["model"], result["data"].x_val

    model.train()
    # Two training forward passes; the backward uses their outputs, as a training step would.
    first, second = model(x_val), model(x_val)
    (first - second).pow(2).mean().backward()

    assert not torch.equal(first, second), (
        "In training mode two forward passes on the same inputs gave identical outputs: dropout "
        "no longer drops anything while training. Keep the dropout; make it follow the mode "
        "instead of removing it."
    )


def test_the_model_fits_the_validation_data(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    assert result["val_mse"] < TARGET_MSE, (
        f"Validation MSE is {result['val_mse']:.4f}; this model reaches {TARGET_MSE} when its "
        f"predictions are made with dropout off."
    )
