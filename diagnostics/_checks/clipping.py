"""Checks of the 'clipping' family: gradient clipping that cannot do what it is meant to.

clip-after-step      clip_grad_norm_ / clip_grad_value_ called after optimizer.step() and before
                     the next backward(): the update it should bound was already applied
clip-before-unscale  with a GradScaler, the scaled gradients are clipped before
                     scaler.unscale_(optimizer): the threshold is compared with gradients
                     multiplied by the loss scale

Both are judged from the order of events alone: backward(), optimizer.step(), the clipping
call, GradScaler.scale() and GradScaler.unscale_(). No value is read.

A clipping call is "after the step" when every clipped parameter that an optimizer holds was
stepped by it since the last backward(): a closure that runs backward() and clips inside
``optimizer.step(closure)`` clips before the update, and clipping a second optimizer's
parameters between two optimizers' steps is in order. A call is "before unscale" when the
gradients come from a backward() of a loss scaled by an enabled GradScaler (``scale() > 1``
is not needed: the scaler's initial scale is 65536) and no ``unscale_`` of an optimizer
holding the clipped parameters ran since that backward().
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

from .._location import user_location
from ._base import Check

CLIP_AFTER_STEP = (
    "{fn}() clipped the gradients of {count} parameter tensors after {optimizer}.step() had "
    "already used them (step #{step}) and before the next backward(): clipping changes "
    "nothing that was applied, so every update ran unclipped (gradient norm at the clip: "
    "{norm}). The next zero_grad() then throws the clipped values away."
)
CLIP_AFTER_STEP_FIX = (
    "Clip between loss.backward() and optimizer.step(): backward(), {fn}(...), step(). With "
    "a GradScaler: scaler.scale(loss).backward(), scaler.unscale_(optimizer), {fn}(...), "
    "scaler.step(optimizer), scaler.update()."
)
CLIP_BEFORE_UNSCALE = (
    "{fn}() clipped gradients that a GradScaler had scaled (loss scale {scale}) without "
    "scaler.unscale_(optimizer) first: the threshold {threshold} is compared with gradients "
    "{scale} times too large, so the clip bounds the scaled values, clips far harder than "
    "meant (or, with a small threshold, flattens every step to the same tiny size), and "
    "scaler.step() then unscales an update that the clip already distorted."
)
CLIP_BEFORE_UNSCALE_FIX = (
    "Unscale first: scaler.scale(loss).backward(); scaler.unscale_(optimizer); "
    "{fn}(model.parameters(), ...); scaler.step(optimizer); scaler.update()."
)


class ClippingChecks(Check):
    """clip-after-step, clip-before-unscale."""

    family = "clipping"

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        # Which optimizers stepped since the latest backward(), and how often: the clock's.
        self._clock = watch.clock
        # GradScaler.scale() calls, each with the backward() calls begun before it (the last
        # two: the one the latest backward() differentiated is the one made just before it).
        self._scales: list[tuple[weakref.ref[Any], int]] = []
        # Optimizers whose gradients GradScaler.unscale_() unscaled, with the same count.
        self._unscaled: list[tuple[weakref.ref[Any], int]] = []

    # -- events -------------------------------------------------------------------------------
    def on_grad_scale(self, scaler: Any) -> None:
        self._scales = [*self._scales[-1:], (weakref.ref(scaler), self._clock.backwards)]

    def on_unscale(self, scaler: Any, optimizer: Any) -> None:
        backwards = self._clock.backwards
        self._unscaled = [u for u in self._unscaled if u[1] == backwards]
        self._unscaled.append((weakref.ref(optimizer), backwards))

    def _scaler(self) -> Any:
        """The GradScaler whose scaled loss the latest backward() differentiated, if any."""
        before = self._clock.backwards - 1
        for ref, backwards in reversed(self._scales):
            if backwards == before:
                return ref()
        return None

    def on_clip(self, name: str, params: list, threshold: Any) -> None:
        clipped = [p for p in params if isinstance(p, torch.Tensor) and p.requires_grad]
        if not clipped:
            return
        stepped = self._clock.stepped_since_backward()
        if stepped:
            self._after_step(name, clipped, stepped)
        else:
            self._before_unscale(name, clipped, threshold)

    # -- clip-after-step ----------------------------------------------------------------------
    def _after_step(
        self, name: str, clipped: list[torch.Tensor], stepped: list[tuple[Any, int]]
    ) -> None:
        held = {
            id(p): (opt, n) for opt, n in stepped for g in opt.param_groups for p in g["params"]
        }
        owners = [held.get(id(p)) for p in clipped]
        if any(o is None for o in owners):
            return  # some of them are still to be stepped: clipping is (partly) in time
        optimizer, step = owners[0]  # type: ignore[misc]
        norm = _norm(clipped)
        self.emit(
            "clip-after-step",
            key=("clip-after-step", name),
            subject=optimizer,
            message=CLIP_AFTER_STEP.format(
                fn=name,
                count=len(clipped),
                optimizer=type(optimizer).__name__,
                step=step,
                norm=norm,
            ),
            fix=CLIP_AFTER_STEP_FIX.format(fn=name),
            location=user_location(),
            evidence={
                "clipping call": f"{name}, {len(clipped)} parameter tensors",
                "optimizer": f"{type(optimizer).__name__} (lr="
                + ", ".join(f"{float(g['lr']):.4g}" for g in optimizer.param_groups)
                + ")",
                "order seen": "backward() -> step() -> " + name + "()",
                "first faulty step": f"#{step}",
            },
        )

    # -- clip-before-unscale ------------------------------------------------------------------
    def _before_unscale(self, name: str, clipped: list[torch.Tensor], threshold: Any) -> None:
        scaler = self._scaler()
        if scaler is None or not scaler.is_enabled():
            return
        ids = {id(p) for p in clipped}
        backwards = self._clock.backwards
        for ref, when in self._unscaled:
            opt = ref() if when == backwards else None
            if opt is not None and any(id(p) in ids for g in opt.param_groups for p in g["params"]):
                return  # unscale_ ran for (some of) these parameters: the order is right
        if not any(p.grad is not None for p in clipped):
            return
        scale = float(scaler.get_scale())
        self.emit(
            "clip-before-unscale",
            key=("clip-before-unscale", name),
            location=user_location(),
            message=CLIP_BEFORE_UNSCALE.format(
                fn=name, scale=f"{scale:g}", threshold=repr(threshold)
            ),
            fix=CLIP_BEFORE_UNSCALE_FIX.format(fn=name),
            evidence={
                "clipping call": f"{name}, {len(clipped)} parameter tensors",
                "threshold": repr(threshold),
                "loss scale at the clip": f"{scale:g}",
                "gradient norm at the clip (scaled)": _norm(clipped),
                "order seen": "scaler.scale(loss).backward() -> " + name + "() (no unscale_)",
            },
        )


def _norm(params: list[torch.Tensor]) -> str:
    """The gradients' total 2-norm (one reduction per tensor), for the evidence."""
    total = 0.0
    with torch.no_grad():
        for p in params:
            g = p.grad
            if g is None or g.is_sparse or g.is_meta:
                continue
            total += float(torch.linalg.vector_norm(g.detach().float())) ** 2
    value = total**0.5
    return f"{value:.4g}"
