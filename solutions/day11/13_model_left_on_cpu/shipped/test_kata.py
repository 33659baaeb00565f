"""A regression MLP trained with AdamW on the accelerator."""

TARGET_MSE = 0.3  # the targets' variance is 0.8 to 1.5; the noise's is 0.01


def test_the_model_trains_on_the_accelerator(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    devices = {str(p.device) for p in result["model"].parameters()}
    mse = result["val_mse"][-1]

    assert devices == {"cuda:0"}, (
        f"The trained model's parameters are on {sorted(devices)}, while its batches go to the "
        "accelerator: the model has to be there too."
    )
    assert mse < TARGET_MSE, (
        f"Validation MSE after training is {mse:.3f}; this MLP gets below {TARGET_MSE} on "
        "the regression data."
    )


def test_the_optimizer_updates_the_parameters_the_model_computes_with(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    model, optimizer = result["model"], result["optimizer"]
    in_optimizer = [p for group in optimizer.param_groups for p in group["params"]]

    assert {id(p) for p in in_optimizer} == {id(p) for p in model.parameters()}, (
        "The optimizer holds other tensors than the model's parameters, so its steps do not "
        "change the model. model.to(device) keeps the very same Parameter objects, before or "
        "after the optimizer is built; replacing parameters does not."
    )
    assert all(str(p.device) == "cuda:0" for p in in_optimizer), (
        "The optimizer's parameters should be on the accelerator, where the model computes."
    )
