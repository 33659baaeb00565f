from torch import nn

TARGET_ACCURACY = 0.9


def test_the_cnn_trains_and_classifies_the_digits(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    assert result["val_acc"] >= TARGET_ACCURACY, (
        f"Validation accuracy is {result['val_acc']:.1%}; this CNN reaches "
        f"{TARGET_ACCURACY:.0%} on the digits."
    )


def test_each_convolution_is_normalised_channel_by_channel(kata):
    model = kata.load("train.py").ConvNet()
    for conv_name, norm_name in (("conv1", "bn1"), ("conv2", "bn2")):
        conv, norm = getattr(model, conv_name), getattr(model, norm_name)
        assert isinstance(norm, nn.BatchNorm2d), (
            f"{norm_name} is a {type(norm).__name__}, but it normalises the output of the "
            f"convolution {conv_name}, a feature map of shape (N, C, H, W). BatchNorm1d takes "
            f"(N, C) or (N, C, L); the 2-D version takes (N, C, H, W) and computes one mean "
            f"and variance per channel over the batch and every pixel."
        )
        assert norm.num_features == conv.out_channels, (
            f"{norm_name} keeps statistics for {norm.num_features} channels, but {conv_name} "
            f"produces {conv.out_channels} channels: num_features must equal the channel count "
            f"of the layer before it."
        )
