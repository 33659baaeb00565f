import math

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures

TARGET_LOSS = 0.3
TARGET_ACCURACY = 0.9


def test_the_training_loss_keeps_falling(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    losses = result["epoch_losses"]
    floor = math.log(1 + 9 / math.e)  # cross-entropy of a one-hot probability vector, 10 classes

    assert losses[-1] < TARGET_LOSS, (
        f"The training loss ends at {losses[-1]:.3f} (by epoch: "
        f"{', '.join(f'{v:.3f}' for v in losses)}) and should end below {TARGET_LOSS}. It "
        f"flattens out near {floor:.2f}: that is what nn.CrossEntropyLoss gives even for a "
        f"perfectly confident, correct prediction when it is fed probabilities instead of raw "
        f"scores, because it applies softmax again to numbers that lie between 0 and 1."
    )


def test_the_classifier_is_accurate_on_validation_data(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    assert result["val_acc"] >= TARGET_ACCURACY, (
        f"Validation accuracy is {result['val_acc']:.1%}; this classifier reaches "
        f"{TARGET_ACCURACY:.0%} on the digits."
    )


def test_the_model_outputs_scores_cross_entropy_can_take(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    data = fixtures.digits(flat=True, seed=kata.seed)
    model = result["model"]
    model.eval()
    with torch.no_grad():
        outputs = model(data.x_val)
    loss = F.cross_entropy(outputs, data.y_val).item()
    in_unit = bool(((outputs >= 0) & (outputs <= 1)).all())
    assert loss < TARGET_LOSS, (
        f"The model's outputs, given to cross_entropy as the raw scores (logits) it expects, "
        f"give a validation loss of {loss:.3f}, for a model that classifies "
        f"{result['val_acc']:.0%} of the digits right; it should be below {TARGET_LOSS}."
        + (
            " Every output lies between 0 and 1: the model hands out probabilities, and "
            "cross-entropy applies softmax to them again."
            if in_unit
            else ""
        )
    )
