"""Digits with a small CNN on the accelerator: every batch must meet the model on its device."""

import torch
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

TARGET_ACCURACY = 0.85


def test_the_model_trains_and_is_validated_on_the_accelerator(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["val_accuracy"][-1]
    devices = {str(p.device) for p in result["model"].parameters()}

    assert devices == {"cuda:0"}, (
        f"The trained model's parameters are on {sorted(devices)}: the point is to train on "
        "the accelerator, so keep model.to(device) and bring the data to the model instead."
    )
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy after training is {accuracy:.1%}; this CNN reaches "
        f"{TARGET_ACCURACY:.0%} on the digits in two epochs."
    )


def test_evaluate_scores_a_model_on_the_accelerator_with_batches_from_a_loader(kata):
    train = kata.load("train.py")
    torch.manual_seed(kata.seed)
    data = fixtures.digits(seed=kata.seed)
    loader = DataLoader(data.val_set(), batch_size=100)  # yields CPU tensors, as loaders do
    model = fixtures.SmallCNN(width=8).to("cuda")

    accuracy = train.evaluate(model, loader)

    model.eval()
    with torch.no_grad():
        predictions = model(data.x_val.to("cuda")).argmax(1).cpu()
    expected = (predictions == data.y_val).float().mean().item()
    assert abs(accuracy - expected) < 0.01, (
        f"evaluate() returned {accuracy:.3f} for a model whose accuracy on these batches is "
        f"{expected:.3f}."
    )
