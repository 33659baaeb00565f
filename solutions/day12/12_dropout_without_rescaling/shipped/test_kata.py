import torch

DRAWS = 200


def _trained(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    return train, result["model"], result["data"].x_val


def test_the_logits_have_the_same_scale_in_training_and_in_eval_mode(kata):
    _, model, x = _trained(kata)
    with torch.no_grad():
        model.eval()
        eval_logits = model(x)
        model.train()
        train_logits = torch.stack([model(x) for _ in range(DRAWS)]).mean(dim=0)
    model.eval()

    gap = (train_logits - eval_logits).abs().mean().item()
    scale = eval_logits.abs().mean().item()
    assert gap < 0.1 * scale, (
        f"Averaged over {DRAWS} training-mode passes, the logits differ from the eval-mode "
        f"logits by {gap:.3f} on average, for logits of typical size {scale:.3f}. The last "
        f"layer learned weights for the activations it saw in training; in eval mode nothing "
        f"is dropped, so it receives activations about 1/(1-p) times larger than the ones it "
        f"was trained on, and every prediction is skewed."
    )


def test_the_dropout_layer_keeps_each_activations_expected_value(kata):
    train = kata.load("train.py")
    x = torch.rand(256, 64) + 0.5
    for p in (0.2, 0.5, 0.7):
        layer = train.Dropout(p=p)
        layer.train()
        with torch.no_grad():
            mean_out = torch.stack([layer(x) for _ in range(DRAWS)]).mean(dim=0)

        ratio = (mean_out.mean() / x.mean()).item()
        assert abs(ratio - 1.0) < 0.03, (
            f"With p={p}, in training mode the layer's output is on average {ratio:.2f} times "
            f"its input; it should be 1.00, the same as in eval mode, where it returns its "
            f"input untouched. Zeroing a fraction p of the activations removes that fraction of "
            f"the signal: the activations that survive must make up for it, whatever p is."
        )


def test_the_dropout_layer_still_drops_activations_while_training(kata):
    train = kata.load("train.py")
    layer = train.Dropout(p=0.3)
    layer.train()
    with torch.no_grad():
        out = layer(torch.ones(100_000))
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - 0.3) < 0.01, (
        f"With p=0.3 the layer zeroed {dropped:.1%} of the activations in training mode; it "
        f"should zero about 30%. Keep the random mask."
    )


def test_the_dropout_layer_does_nothing_in_eval_mode(kata):
    train = kata.load("train.py")
    layer = train.Dropout(p=0.5)
    layer.eval()
    x = torch.randn(32, 16)
    assert torch.equal(layer(x), x), (
        "In eval mode the layer changed its input; at evaluation dropout must be the identity."
    )
