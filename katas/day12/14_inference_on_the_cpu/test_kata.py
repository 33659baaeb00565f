"""Digits, dropout MLP trained on the accelerator, served from a CPU copy of its best weights."""

import torch

TARGET_ACCURACY = 0.9


def test_the_served_model_runs_on_the_cpu_and_scores_well(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    server = result["model"]
    devices = {str(p.device) for p in server.parameters()}
    assert devices == {"cpu"}, (
        f"The served model's parameters are on {sorted(devices)}; the server runs on the CPU."
    )
    assert not server.training, "The served model is still in training mode: dropout is on."
    accuracy = result["served_accuracy"]
    assert accuracy >= TARGET_ACCURACY, (
        f"The served model reaches {accuracy:.1%} validation accuracy; the best weights reach "
        f"{TARGET_ACCURACY:.0%} or more."
    )


def test_the_served_model_predicts_cpu_inputs(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    server = result["model"]
    x = torch.rand(5, 64)
    with torch.no_grad():
        out = server(x)
    assert out.shape == (5, 10) and out.device.type == "cpu", (
        f"The served model returned {tuple(out.shape)} on {out.device} for 5 CPU inputs."
    )
