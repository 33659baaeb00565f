"""Boss: early stopping with dropout; two faults, the tests pass only with both fixed."""

import torch


def test_the_validation_loss_is_a_deterministic_measurement(kata):
    train = kata.load("train.py")
    torch.manual_seed(kata.seed)
    model = train.fixtures.MLP(8, 1, hidden=(32,), dropout=0.3)
    model.train()  # as it is at the end of a training epoch
    x, y = torch.randn(64, 8), torch.randn(64, 1)
    first, second = train.validation_loss(model, x, y), train.validation_loss(model, x, y)
    assert first == second, (
        f"validation_loss gave {first:.4f}, then {second:.4f} for the same model and data: the "
        f"measurement is random. Early stopping then compares noise, and the 'best' epoch is "
        f"the luckiest draw, not the best model."
    )


def test_the_restored_model_scores_the_best_recorded_validation_loss(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    stopper, data, model = result["stopper"], result["data"], result["model"]
    model.eval()
    with torch.no_grad():
        restored = torch.nn.functional.mse_loss(model(data.x_val), data.y_val).item()
    last = result["history"][-1]
    assert abs(restored - stopper.best_loss) < 1e-5, (
        f"The early stopper recorded its best validation loss {stopper.best_loss:.4f} at epoch "
        f"{stopper.best_epoch}, but the restored model scores {restored:.4f} in eval mode (the "
        f"last epoch scored {last:.4f}). Either the best weights are not the weights of that "
        f"epoch, or the recorded loss was not measured on the model as it predicts."
    )
