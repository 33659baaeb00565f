"""A line is easy to fit: the loss must fall to almost nothing."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import train  # noqa: E402


def test_the_line_is_fitted():
    losses = train.train(seed=0)["losses"]
    assert losses[-1] < 1e-3, f"The final loss is {losses[-1]:.3g}; it should fall below 0.001."
