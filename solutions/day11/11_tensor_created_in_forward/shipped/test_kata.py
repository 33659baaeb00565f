"""An MLP with a Gaussian-noise layer, trained on the accelerator."""

import torch

TARGET_ACCURACY = 0.85


def test_the_noisy_mlp_trains_on_the_accelerator(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["val_accuracy"]
    devices = {str(p.device) for p in result["model"].parameters()}

    assert devices == {"cuda:0"}, (
        f"The trained model's parameters are on {sorted(devices)}: train on the accelerator, "
        "and create the noise where the input is instead of moving the model away."
    )
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy is {accuracy:.1%}; the noisy MLP reaches "
        f"{TARGET_ACCURACY:.0%} on the digits in three epochs."
    )


def test_the_noise_layer_works_on_any_device_and_only_in_training(kata):
    train = kata.load("train.py")
    layer = train.GaussianNoise(0.5)
    x = torch.zeros(256, 8, device="cuda")

    noisy = layer.train()(x)
    clean = layer.eval()(x)

    assert noisy.device == x.device, (
        f"GaussianNoise returned a tensor on {noisy.device} for an input on {x.device}: a "
        "layer's output belongs on its input's device."
    )
    assert 0.4 < noisy.std().item() < 0.6, (
        f"In training mode the layer should add noise of standard deviation 0.5 to its input; "
        f"the output's standard deviation is {noisy.std().item():.3f}."
    )
    assert torch.equal(clean, x), "In eval mode the layer should return its input unchanged."

    on_cpu = layer.train()(torch.zeros(16, 8))
    assert on_cpu.device.type == "cpu", (
        f"GaussianNoise returned a tensor on {on_cpu.device} for an input on the CPU: the noise "
        "must be created on whatever device the input is on, not on a fixed one."
    )
