import torch

TARGET_MSE = 0.2


def test_predictions_carry_no_autograd_graph(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)

    predictions = train.predict(result["model"], result["data"].x_val)

    assert predictions.grad_fn is None and not predictions.requires_grad, (
        f"predict() returns a tensor with requires_grad={predictions.requires_grad} and "
        f"grad_fn={type(predictions.grad_fn).__name__}: autograd recorded every operation of "
        f"the forward pass and kept the activations alive for a backward pass that never "
        f"comes. model.eval() changes how dropout and BatchNorm behave; it does not turn off "
        f"gradient tracking. Every validation pass of fit() paid for this too."
    )


def test_predict_runs_the_model_with_gradient_tracking_off(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    model = result["model"]
    tracking = []
    handle = model.register_forward_pre_hook(
        lambda module, args: tracking.append(torch.is_grad_enabled())
    )
    try:
        train.predict(model, result["data"].x_val)
    finally:
        handle.remove()

    assert tracking and not any(tracking), (
        "predict() ran the model's forward pass with gradient tracking on: autograd recorded "
        "the graph and kept every activation alive while the forward ran, whatever happens to "
        "the output afterwards (.detach() only cuts the result from a graph already built). "
        "Run the forward pass itself without recording."
    )
    assert all(p.requires_grad for p in model.parameters()), (
        "After predict() some of the model's parameters no longer require gradients: the next "
        "training step would have nothing to learn. Turn off recording for the forward pass, "
        "not the parameters."
    )


def test_the_model_fits_the_validation_data(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    final = result["val_history"][-1]
    assert final < TARGET_MSE, (
        f"Validation MSE ends at {final:.4f}; this model reaches {TARGET_MSE} on the data."
    )
