import torch

import kata_fixtures as fixtures

TARGET_ACCURACY = 0.9


def test_each_image_comes_out_channels_first(kata):
    train_set, _ = kata.load("train.py").load_data(seed=kata.seed)
    image, _ = train_set[0]

    assert tuple(image.shape) == (3, 8, 8), (
        f"One image from the data set has shape {tuple(image.shape)}; a colour image for a "
        f"PyTorch convolution must be (channels, height, width) = (3, 8, 8), so that a batch "
        f"is (N, C, H, W). The decoded images are (height, width, channels)."
    )
    original = fixtures.tiny_images(seed=kata.seed).x_train[0]  # (C, H, W), as generated
    for channel in range(3):
        assert torch.equal(image[channel], original[channel]), (
            f"Channel {channel} of the first image is not that channel of the original image "
            f"(the data set has the right shape, but not the right pixels in it): the decoded "
            f"(height, width, channels) array must have its axes reordered to (channels, "
            f"height, width), which reshape() or view() does not do; they only reread the "
            f"same memory in another shape.\n"
            f"Expected channel {channel}:\n{original[channel]}\ngot:\n{image[channel]}"
        )


def test_the_cnn_trains_and_classifies_the_images(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    assert result["val_acc"] >= TARGET_ACCURACY, (
        f"Validation accuracy is {result['val_acc']:.1%}; the CNN should reach "
        f"{TARGET_ACCURACY:.0%} on these bar images."
    )
