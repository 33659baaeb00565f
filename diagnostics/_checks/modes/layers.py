"""Which layers of a model behave differently in training and eval mode, and how a finding
names them: dropout, BatchNorm updating its statistics, multi-layer RNNs with dropout, and the
user's own layers whose forward() reads ``self.training``."""

from __future__ import annotations

import types
import weakref

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.dropout import _DropoutNd

# A dropout or BatchNorm call in training mode: its module, and how a functional call was made
# (None for nn.Dropout / nn.BatchNorm modules, which describe themselves).
Layer = tuple[nn.Module, "str | None"]


def join_names(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def path_in(root: nn.Module, module: nn.Module) -> str:
    if module is root:
        return ""
    for name, m in root.named_modules():
        if m is module:
            return name
    return ""


def describe_layer(name: str, module: nn.Module) -> str:
    kind = type(module).__name__
    label = name or "(the model itself)"
    if isinstance(module, _DropoutNd):
        return f"{label} ({kind} p={module.p:g})"
    if isinstance(module, nn.RNNBase):
        return f"{label} ({kind} dropout={module.dropout:g})"
    return f"{label} ({kind})"


def train_mode_layers(root: nn.Module, layers: list[Layer]) -> tuple[list[str], list[str]]:
    """Dropout layers, and BatchNorm layers updating their statistics, seen in training mode
    during a forward of ``root`` (plus its multi-layer RNNs with dropout, which call no F.*)."""
    names = {id(m): name for name, m in root.named_modules()}
    dropouts: dict[str, None] = {}  # ordered sets
    norms: dict[str, None] = {}
    for module, call in layers:
        if call is None and mode_dependent(type(module)):
            continue  # listed by custom_train_layers
        name = names.get(id(module), type(module).__name__)
        if call is None:
            text = describe_layer(name, module)
        elif name:
            text = f"{name} ({type(module).__name__}): {call}"
        else:
            text = f"{type(module).__name__}.forward: {call}"
        (norms if isinstance(module, _BatchNorm) or call == "F.batch_norm" else dropouts)[text] = (
            None
        )
    for name, m in root.named_modules():
        if isinstance(m, nn.RNNBase) and m.training and m.dropout > 0 and m.num_layers > 1:
            dropouts[describe_layer(name, m)] = None
    return list(dropouts), list(norms)


def custom_train_layers(root: nn.Module, layers: list[Layer]) -> list[str]:
    """The custom mode-dependent layers among ``layers``, described."""
    names = {id(m): name for name, m in root.named_modules()}
    return [
        describe_layer(names.get(id(m), type(m).__name__), m)
        for m, call in layers
        if call is None and mode_dependent(type(m))
    ]


_MODE_DEPENDENT: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def mode_dependent(cls: type) -> bool:
    """Does ``cls`` (a layer of the user's, not torch's own) read ``self.training`` in its
    forward()? Modules that merely carry the flag, like every module, do not."""
    known = _MODE_DEPENDENT.get(cls)
    if known is None:
        known = _MODE_DEPENDENT[cls] = _mode_dependent(cls)
    return known


def _mode_dependent(cls: type) -> bool:
    if issubclass(cls, (_DropoutNd, _BatchNorm, nn.RNNBase)):
        return False
    if cls.__module__ == "torch" or cls.__module__.startswith("torch."):
        return False
    forward = getattr(cls, "forward", None)
    if forward is None or forward is nn.Module.forward:
        return False
    forward = getattr(forward, "__wrapped__", forward)
    code = getattr(forward, "__code__", None)
    return isinstance(code, types.CodeType) and _reads_training(code)


def _reads_training(code: types.CodeType) -> bool:
    if "training" in code.co_names:
        return True
    return any(isinstance(c, types.CodeType) and _reads_training(c) for c in code.co_consts)


def eval_mode_layers(root: nn.Module, trained: set[int]) -> list[str]:
    """Dropout/BatchNorm layers in eval mode in the part of ``root`` the optimizer trains.

    A BatchNorm counts when its own affine parameters train (frozen BatchNorm is deliberate);
    a dropout when the module that holds it has parameters that train.
    """
    modules = dict(root.named_modules())

    def trains(module: nn.Module) -> bool:
        return any(p.requires_grad and id(p) in trained for p in module.parameters())

    out = []
    for name, m in modules.items():
        if m.training:
            continue
        if isinstance(m, _BatchNorm):
            if m.track_running_stats and m.affine and trains(m):
                out.append(describe_layer(name, m))
        elif isinstance(m, _DropoutNd) and m.p > 0:
            parent = modules.get(name.rpartition(".")[0], root)
            if trains(parent):
                out.append(describe_layer(name, m))
        elif isinstance(m, nn.RNNBase) and m.dropout > 0 and m.num_layers > 1 and trains(m):
            out.append(describe_layer(name, m))
        elif mode_dependent(type(m)):
            parent = modules.get(name.rpartition(".")[0], root)
            if trains(m) or trains(parent):
                out.append(describe_layer(name, m))
    return out
