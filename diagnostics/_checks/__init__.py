"""The families of checks. Each module detects the codes of one family (see _catalogue)."""

from __future__ import annotations

from ._base import Check
from .checkpoints import CheckpointChecks
from .clipping import ClippingChecks
from .devices import DeviceChecks
from .distributed import DistributedChecks
from .divergence import DivergenceChecks
from .gradients import GradientChecks
from .losses import LossChecks
from .modes import ModeChecks
from .optimizers import OptimizerChecks
from .schedulers import SchedulerChecks
from .shapes import ShapeChecks

ALL_CHECKS: tuple[type[Check], ...] = (
    GradientChecks,
    OptimizerChecks,
    SchedulerChecks,
    ModeChecks,
    LossChecks,
    CheckpointChecks,
    DeviceChecks,
    ShapeChecks,
    DistributedChecks,
    DivergenceChecks,
    ClippingChecks,
)

__all__ = ["ALL_CHECKS", "Check"]
