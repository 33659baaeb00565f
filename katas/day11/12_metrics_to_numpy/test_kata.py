"""Digits with an MLP on the accelerator, scored with a confusion matrix."""

import numpy as np
import torch
from torch.utils.data import DataLoader

import kata_fixtures as fixtures

TARGET_ACCURACY = 0.85


def test_training_ends_with_an_accurate_confusion_matrix(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    matrix = result["confusion"]
    total = len(result["val_loader"].dataset)
    devices = {str(p.device) for p in result["model"].parameters()}

    assert devices == {"cuda:0"}, (
        f"The trained model's parameters are on {sorted(devices)}: train on the accelerator, "
        "and bring only the metrics back to the host."
    )

    assert isinstance(matrix, np.ndarray) and matrix.shape == (10, 10), (
        f"confusion_matrix() should return a 10x10 NumPy array, got {type(matrix).__name__} "
        f"of shape {getattr(matrix, 'shape', None)}."
    )
    assert matrix.sum() == total, (
        f"The confusion matrix counts {matrix.sum()} examples; the validation set has {total}."
    )
    accuracy = matrix.trace() / total
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy read from the confusion matrix is {accuracy:.1%}; this MLP "
        f"reaches {TARGET_ACCURACY:.0%} on the digits in three epochs."
    )


def test_the_confusion_matrix_counts_each_prediction_once(kata):
    train = kata.load("train.py")
    torch.manual_seed(kata.seed)
    data = fixtures.digits(flat=True, seed=kata.seed)
    loader = DataLoader(data.val_set(), batch_size=100)
    model = fixtures.MLP(64, 10, hidden=(64,)).to("cuda")

    matrix = train.confusion_matrix(model, loader, torch.device("cuda"))

    with torch.no_grad():
        predicted = model(data.x_val.to("cuda")).argmax(1).cpu()
    expected = np.zeros((10, 10), dtype=np.int64)
    np.add.at(expected, (data.y_val.numpy(), predicted.numpy()), 1)
    assert np.array_equal(matrix, expected), (
        "confusion_matrix() should count, for each validation example, its true class (row) "
        f"against the model's prediction (column); it returned\n{matrix}\ninstead of\n{expected}"
    )
