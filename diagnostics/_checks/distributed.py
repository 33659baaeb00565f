"""Faults of training in several processes: DistributedSampler, DDP ranks, DDP checkpoints.

- ``sampler-epoch-not-set``: a shuffling ``DistributedSampler`` iterated two or more times while
  its epoch never changed: ``set_epoch(epoch)`` is missing, so every epoch visits one order.
- ``ranks-out-of-sync``: each rank records a float64 checksum of its DDP model's parameters after
  optimizer steps 1, 2, 4, ... 32 and every 32nd step after; the merge of the processes' findings
  compares them. No collective is issued: a rank that skipped a step would pair our all-reduce
  with the user's and hang the run, and files cost nothing on the other ranks.
- ``state-dict-module-prefix``: ``load_state_dict`` given keys that differ from the model's by a
  ``module.`` prefix (a DDP checkpoint into a plain model, or the reverse), explained before the
  load fails (or, with ``strict=False``, silently loads nothing).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .._findings import Finding, Location, as_pairs
from .._location import user_location
from ._base import Check

_PREFIX = "module."
_FIRST_CHECKS = frozenset((1, 2, 4, 8, 16, 32))
_EVERY = 32
_SAMPLE = 1024
_RTOL = 1e-9  # DDP keeps the ranks' parameters bitwise equal

_SAMPLER_FIX = (
    "Call sampler.set_epoch(epoch) at the start of every epoch, before iterating the DataLoader: "
    "DistributedSampler seeds its shuffle with seed + epoch, so without it every epoch visits the "
    "same order on every rank."
)
_SYNC_FIX = (
    "Every rank must run the same steps through the DDP wrapper: call model(x), never "
    "model.module(x), in training (the gradients of model.module are never all-reduced); skip "
    "a step on all ranks or none (agree with an all-reduce of the skip flag); and end every "
    "no_sync() accumulation with a backward() outside no_sync()."
)


class DistributedChecks(Check):
    family = "distributed"
    quiet = frozenset({"on_step_post"})  # until a DDP model is seen

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        self._undo: list[Callable[[], None]] = []
        # id(sampler) -> [epochs seen, iterations, location of the second iteration, evidence]
        # (no reference kept: a script's sampler is often gone by the time the watch ends)
        self._samplers: dict[int, list[Any]] = {}
        self._ddp: weakref.WeakSet[Any] = weakref.WeakSet()
        self._steps = 0
        # A DistributedDataParallel model is noted as it is built (a patch of its __init__);
        # one built before the watch can exist only once a process group is: its forwards
        # are looked at then.
        self._ddp_before = _process_group_up()
        self._patch_sampler()
        self._patch_ddp()

    def handles(self, event: str) -> bool:
        if event == "on_root_forward" and not self._ddp_before:
            return False
        return super().handles(event)

    # -- patches of our own, removed in close() ----------------------------------------------
    def _patch(self, owner: type, name: str, wrapper: Any) -> None:
        original = owner.__dict__[name]
        wrapper.__wrapped__ = original
        setattr(owner, name, wrapper)

        def undo() -> None:
            if owner.__dict__.get(name) is wrapper:
                setattr(owner, name, original)

        self._undo.append(undo)

    def _patch_sampler(self) -> None:
        from torch.utils.data.distributed import DistributedSampler

        original = DistributedSampler.__dict__["__iter__"]
        seen = self._sampler_iterated

        def __iter__(sampler: Any) -> Any:
            with contextlib.suppress(Exception):  # never break the user's loop
                seen(sampler)
            return original(sampler)

        self._patch(DistributedSampler, "__iter__", __iter__)

    def _patch_ddp(self) -> None:
        from torch.nn.parallel import DistributedDataParallel

        original = DistributedDataParallel.__dict__["__init__"]
        models, note_rank, listen = self._ddp, self._note_rank, self.listen

        def __init__(ddp: Any, *args: Any, **kwargs: Any) -> None:
            original(ddp, *args, **kwargs)
            models.add(ddp)
            listen("on_step_post")
            with contextlib.suppress(Exception):
                note_rank()

        self._patch(DistributedDataParallel, "__init__", __init__)

    def _note_rank(self) -> None:
        """Keep this process's rank for the merged report (the group may be gone by then)."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            self.watch.report.process_data["rank"] = dist.get_rank()

    def close(self) -> None:
        while self._undo:
            self._undo.pop()()

    # -- sampler-epoch-not-set -------------------------------------------------------------------
    def _sampler_iterated(self, sampler: Any) -> None:
        if not getattr(sampler, "shuffle", False):
            return
        state = self._samplers.get(id(sampler))
        if state is None:
            evidence = {
                "num_replicas": getattr(sampler, "num_replicas", "?"),
                "seed": getattr(sampler, "seed", "?"),
            }
            self._samplers[id(sampler)] = [{sampler.epoch}, 1, None, evidence]
            return
        state[0].add(sampler.epoch)
        state[1] += 1
        if state[2] is None:
            state[2] = user_location(skip=3)

    def finish(self) -> None:
        for key, (epochs, iterations, where, more) in list(self._samplers.items()):
            if iterations < 2 or len(epochs) != 1:
                continue
            (epoch,) = epochs
            self.emit(
                "sampler-epoch-not-set",
                key=key,
                location=where,
                message=(
                    f"A DistributedSampler with shuffle=True was iterated {iterations} times and "
                    f"its epoch stayed {epoch}: set_epoch() is never called with the epoch, so "
                    f"every epoch shuffles into the same order and each rank sees the same shard "
                    f"in the same order every time."
                ),
                fix=_SAMPLER_FIX,
                evidence={
                    "iterations": iterations,
                    "sampler.epoch": epoch,
                    **more,
                },
                subject=None,
            )

    # -- ranks-out-of-sync: checksums for the merge -------------------------------------------
    def on_root_forward(self, module: Any, args: Any, output: Any) -> None:
        if type(module).__name__ == "DistributedDataParallel":
            self._ddp.add(module)
            self.listen("on_step_post")

    def on_step_post(self, optimizer: Any) -> None:
        if not self._ddp:
            return
        self._steps += 1
        step = self._steps
        if step not in _FIRST_CHECKS and step % _EVERY:
            return
        import torch
        import torch.distributed as dist

        if not dist.is_initialized() or dist.get_world_size() < 2:
            return
        data = self.watch.report.process_data.setdefault("param_checksums", {})
        for index, ddp in enumerate(list(self._ddp)):
            params = [p.detach() for p in ddp.module.parameters()]
            if not params:
                continue
            with torch.no_grad():
                total = torch.stack([_checksum(p) for p in params]).sum()
            if "where" not in data:
                loc = user_location(skip=2)
                data["where"] = [loc.file, loc.line] if loc else None
            data.setdefault(str(index), {})[str(step)] = float(total.item())

    # -- state-dict-module-prefix ------------------------------------------------------------
    def on_load_state_dict(self, module: Any, state_dict: Any) -> None:
        if not hasattr(state_dict, "keys"):
            return
        given = [str(k) for k in state_dict.keys()]  # noqa: SIM118 (any Mapping, not only dict)
        own = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
        if not given or not own:
            return
        given_set = set(given)
        if given_set & own:
            return
        if all(k.startswith(_PREFIX) for k in given):
            stripped = {k[len(_PREFIX) :] for k in given}
            if not stripped & own:
                return
            example = next(k for k in given if k[len(_PREFIX) :] in own)
            self._prefix_finding(
                module,
                example,
                example[len(_PREFIX) :],
                "The checkpoint was saved from a DistributedDataParallel model (its keys start "
                "with 'module.') and is loaded into a plain model, whose keys do not.",
                "Load it with the prefix taken off: "
                "model.load_state_dict({k.removeprefix('module.'): v for k, v in state.items()}); "
                "better, save ddp_model.module.state_dict() in the first place, so the checkpoint "
                "loads with or without DDP.",
            )
        elif all(k.startswith(_PREFIX) for k in own):
            wanted = {_PREFIX + k for k in given}
            if not wanted & own:
                return
            example = next(k for k in given if _PREFIX + k in own)
            self._prefix_finding(
                module,
                example,
                _PREFIX + example,
                "A plain model's checkpoint (keys without 'module.') is loaded into a "
                "DistributedDataParallel wrapper, whose keys all start with 'module.'.",
                "Load it into the wrapped model: ddp_model.module.load_state_dict(state) (or "
                "load it before wrapping the model in DistributedDataParallel).",
            )

    def _prefix_finding(
        self, module: Any, given: str, expected: str, message: str, fix: str
    ) -> None:
        self.emit(
            "state-dict-module-prefix",
            message=message
            + " No key matches: load_state_dict raises on missing and unexpected keys, and "
            "with strict=False it loads nothing at all.",
            fix=fix,
            evidence={
                "model": type(module).__name__,
                "a key in the checkpoint": given,
                "the model's key": expected,
            },
            subject=module,
        )


def _checksum(p: Any) -> Any:
    """A float64 checksum of up to ~1024 evenly spaced values of ``p``: cheap on big models, and
    ranks that drift apart differ in every tensor. Squares count too: a plain sum can stay put
    (the gradients of a softmax's logits sum to zero)."""
    import torch

    flat = p.reshape(-1)
    sample = flat[:: max(1, flat.numel() // _SAMPLE)].to(torch.float64)
    return (sample.square().sum() + sample.sum()).cpu()


def out_of_sync_finding(parts: Sequence[tuple[str, int | None, dict[str, Any]]]) -> Finding | None:
    """The ``ranks-out-of-sync`` finding from the processes' checksums, or None when in sync."""
    by_model: dict[str, dict[str, dict[str, float]]] = {}
    where: Location | None = None
    for label, _rank, data in parts:
        sums = data.get("param_checksums") or {}
        for model, steps in sums.items():
            if model == "where":
                if where is None and steps:
                    where = Location(str(steps[0]), int(steps[1]))
                continue
            by_model.setdefault(model, {})[label] = steps
    for ranks in by_model.values():
        if len(ranks) < 2:
            continue
        steps = sorted(set.intersection(*(set(s) for s in ranks.values())), key=int)
        for step in steps:
            values = {label: s[step] for label, s in ranks.items()}
            if _agree(values.values()):
                continue
            labels = sorted(values)
            return Finding(
                code="ranks-out-of-sync",
                message=(
                    f"After optimizer step {step} the DDP model's parameters differ across "
                    f"{', '.join(labels)}: the ranks now train different models. DDP keeps them "
                    f"equal only when every rank runs the same steps with gradients all-reduced "
                    f"through the DDP wrapper's forward and backward."
                ),
                fix=_SYNC_FIX,
                location=where,
                evidence=as_pairs(
                    {
                        "first step that differs": step,
                        **{f"checksum on {label}": f"{values[label]:.10g}" for label in labels},
                        "steps compared": len(steps),
                    }
                ),
                ranks=tuple((label, 1) for label in labels),
            )
    return None


def _agree(values: Iterable[float]) -> bool:
    vals = list(values)
    lo, hi = min(vals), max(vals)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return all(math.isnan(v) for v in vals) or lo == hi
    return hi - lo <= _RTOL * max(abs(lo), abs(hi), 1.0)


def _process_group_up() -> bool:
    """Is a default process group initialized in this process?"""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()
