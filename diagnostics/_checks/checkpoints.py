"""Checks of the 'checkpoints' family: state-dict-alias.

``model.state_dict()`` returns the live parameters and buffers (detached, sharing storage and
the version counter that every in-place update bumps), not copies. Each tensor it returns is
noted, weakly, with its version and with the training progress (backward passes and optimizer
steps) at that moment. When a ``load_state_dict`` or a ``torch.save`` later receives those very
tensors after training has moved them on, the "best" weights they were meant to keep are gone:
restoring copies the current weights onto themselves, a fresh model built to receive the best
weights receives the current ones, and the saved file holds the current weights.

"Training moved them on" means that some of the state dict's parameters were trained since it
was taken: an optimizer holding them stepped, or (hand-written updates) they have gradients.
Copies are never noted (``copy.deepcopy``, ``.clone()``, a round trip through a file or a
buffer); tensors updated in place through the state dict itself with no training in between
(a hand-written EMA that writes into ``ema.state_dict()`` and loads it back) and the live view
of a model that nothing trains (an EMA copy written through a state dict kept for the purpose,
then saved) stay silent.
"""

from __future__ import annotations

import functools
import itertools
import weakref
from typing import Any

import torch

from .._findings import Location
from .._location import user_location
from ._base import Check

_FIX = (
    "Keep a copy, not references: best = copy.deepcopy(model.state_dict()) (or "
    "{k: v.detach().clone() for k, v in model.state_dict().items()})."
)


class _Snapshot:
    """One ``state_dict()`` call: where it was taken and how far training had got."""

    __slots__ = ("location", "module", "progress")

    def __init__(self, module: Any, location: Location | None, progress: int) -> None:
        self.module = weakref.ref(module)
        self.location = location
        self.progress = progress


class CheckpointChecks(Check):
    """State dicts kept as the 'best' weights while they still alias the live ones."""

    family = "checkpoints"

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        # id(tensor) -> (weak ref to it, its version when returned, the snapshot)
        self._noted: dict[int, tuple[weakref.ref[torch.Tensor], int, _Snapshot]] = {}
        # Training's progress (backward passes and optimizer steps) is the watch's clock.
        self._clock = watch.clock

    def on_state_dict(self, module: Any, state_dict: Any) -> None:
        if not hasattr(state_dict, "values"):
            return
        snapshot = _Snapshot(module, user_location(skip=2), self._clock.ticks)
        for tensor in state_dict.values():
            if isinstance(tensor, torch.Tensor):
                self._noted[id(tensor)] = (
                    weakref.ref(tensor, functools.partial(_forget, self._noted, id(tensor))),
                    tensor._version,
                    snapshot,
                )

    def on_load_state_dict(self, module: Any, state_dict: Any) -> None:
        if not self._noted or not hasattr(state_dict, "items"):
            return
        stale = self._stale(state_dict.items())
        if not stale:
            return
        live = {
            t.data_ptr()
            for t in itertools.chain(module.parameters(), module.buffers())
            if t.numel()
        }
        aliased = [s for s in stale if s[1].numel() and s[1].data_ptr() in live]
        name, _, updates, snapshot = _example(aliased or stale)
        model = type(module).__name__
        where = f" at {snapshot.location}" if snapshot.location else ""
        if aliased:
            message = (
                f"load_state_dict() into {model} restores nothing: {len(aliased)} of "
                f"{len(state_dict)} tensors it was given are {model}'s own parameters and "
                f"buffers (state_dict() returns references, not copies), and training has "
                f"changed them since that state dict was taken{where}. The weights it was "
                f"meant to keep were overwritten step by step, so the model keeps its current "
                f"weights."
            )
        else:
            source = snapshot.module()
            owner = type(source).__name__ if source is not None else "the trained model"
            message = (
                f"load_state_dict() into {model} loads {len(stale)} of {len(state_dict)} "
                f"tensors from a state dict taken{where} that still holds {owner}'s live "
                f"parameters and buffers (state_dict() returns references, not copies), and "
                f"training has changed them since: {model} receives {owner}'s current "
                f"weights, not the ones that state dict was meant to keep."
            )
        self.emit(
            "state-dict-alias",
            message=message,
            fix=_FIX,
            evidence=_evidence(aliased or stale, name, updates, snapshot),
            subject=module,
        )

    def on_save(self, obj: Any) -> None:
        if not self._noted:
            return
        stale = self._stale(_named_tensors(obj))
        if not stale:
            return
        name, _, updates, snapshot = _example(stale)
        where = f" at {snapshot.location}" if snapshot.location else ""
        message = (
            f"torch.save() writes {len(stale)} tensors that came from a state_dict() "
            f"taken{where} and that training has changed since: state_dict() returns "
            f"references to the live parameters, not copies, so the file holds the current "
            f"weights instead of the ones that state dict was meant to keep."
        )
        self.emit(
            "state-dict-alias",
            message=message,
            fix=_FIX + " Or save right away: torch.save(model.state_dict(), path).",
            evidence=_evidence(stale, name, updates, snapshot),
        )

    def _stale(self, items: Any) -> list[tuple[str, torch.Tensor, int, _Snapshot]]:
        """The noted tensors among ``items`` that changed after they were noted, from the
        state dicts some of whose parameters were trained since."""
        changed = self._changed(items)
        snapshots = {id(entry[3]): entry[3] for entry in changed}
        trained = {key for key, snapshot in snapshots.items() if self._trained(snapshot)}
        return [entry for entry in changed if id(entry[3]) in trained]

    def _changed(self, items: Any) -> list[tuple[str, torch.Tensor, int, _Snapshot]]:
        """The noted tensors among ``items`` changed in place after they were noted."""
        out = []
        for name, tensor in items:
            if not isinstance(tensor, torch.Tensor):
                continue
            entry = self._noted.get(id(tensor))
            if entry is None:
                continue
            ref, version, snapshot = entry
            noted = ref()
            if noted is None or noted is not tensor:
                continue  # another tensor that happens to have a dead one's id
            if tensor._version != version and self._clock.ticks > snapshot.progress:
                out.append((str(name), tensor, tensor._version - version, snapshot))
        return out

    def _trained(self, snapshot: _Snapshot) -> bool:
        """Were parameters of the snapshot's model trained after it was taken?"""
        module = snapshot.module()
        if module is None:
            return True  # the model is gone: nothing tells a deliberate update apart
        optimized: set[int] = set()
        for optimizer, steps in self._clock.optimizers():
            if steps.tick > snapshot.progress:  # it stepped after the snapshot
                optimized.update(id(p) for g in optimizer.param_groups for p in g["params"])
        params = [p for p in module.parameters() if p.requires_grad]
        return any(id(p) in optimized or p.grad is not None for p in params)


def _example(
    entries: list[tuple[str, torch.Tensor, int, _Snapshot]],
) -> tuple[str, torch.Tensor, int, _Snapshot]:
    """The entry to name in the evidence: a trained weight (a parameter of the snapshot's
    model, the most updated), not a counter such as BatchNorm's num_batches_tracked."""

    ptrs: dict[int, set[int]] = {}  # per snapshot: where its model's parameters live

    def rank(entry: tuple[str, torch.Tensor, int, _Snapshot]) -> tuple[int, int, int]:
        _, tensor, updates, snapshot = entry
        if id(snapshot) not in ptrs:
            module = snapshot.module()
            params = module.parameters() if module is not None else ()
            ptrs[id(snapshot)] = {p.data_ptr() for p in params if p.numel()}
        is_param = tensor.numel() > 0 and tensor.data_ptr() in ptrs[id(snapshot)]
        return (int(is_param), int(tensor.is_floating_point()), updates)

    return max(entries, key=rank)


def _forget(noted: dict[int, Any], key: int, _ref: Any) -> None:
    """A noted tensor died: forget it (its id may be reused)."""
    noted.pop(key, None)


def _named_tensors(obj: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """Tensors in a saved object: a tensor, or dicts/lists of them, two levels deep."""
    if isinstance(obj, torch.Tensor):
        return [(prefix or "tensor", obj)]
    if depth > 2:
        return []
    if isinstance(obj, dict):
        pairs: Any = obj.items()
    elif isinstance(obj, (list, tuple)):
        pairs = enumerate(obj)
    else:
        return []
    out: list[tuple[str, Any]] = []
    for key, value in pairs:
        out.extend(_named_tensors(value, f"{prefix}.{key}" if prefix else str(key), depth + 1))
    return out


def _evidence(stale: list, name: str, updates: int, snapshot: _Snapshot) -> dict[str, str]:
    return {
        "state dict taken at": str(snapshot.location) if snapshot.location else "(unknown)",
        "aliased tensors changed since": f"{len(stale)}",
        "example": f"{name}: {updates} in-place updates since it was taken",
    }
