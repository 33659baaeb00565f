"""Where the events of a watching thread go: the handlers of its watches' checks, one
attribute per event (read on the hot path), and the call logs and clocks of its watches."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any, Protocol

from ._checks._base import EVENTS, CallRecord
from ._checks._clock import Clock

_Handlers = tuple[Callable[..., Any], ...]


class Subscriber(Protocol):
    """What the engine needs of a watch: its thread, the handlers of its live checks, where
    it logs module calls, and its clock."""

    @property
    def thread(self) -> int:
        """The thread whose events the watch sees (the one that started it)."""
        ...

    @property
    def clock(self) -> Clock:
        """The watch's count of backward() calls and optimizer steps (the engine keeps it)."""
        ...

    def handlers(self, event: str) -> tuple[Callable[..., Any], ...]:
        """The bound ``on_*`` methods of the watch's checks that listen to ``event``."""
        ...

    def call_log(self) -> collections.deque[CallRecord] | None:
        """Where module calls with gradients are logged, while a check wants them."""
        ...


class Route:
    """Where the events of one watching thread go: each event's handlers (an attribute per
    event, read on the hot path), and the call logs and clocks of the thread's watches."""

    __slots__ = (*EVENTS, "calls", "clocks", "inner", "no_grad_root", "no_grad_root_pre", "outer")
    on_module_forward: _Handlers
    on_root_forward_pre: _Handlers
    on_root_forward: _Handlers
    on_backward: _Handlers
    on_step_pre: _Handlers
    on_step_post: _Handlers
    on_scheduler_step_pre: _Handlers
    on_scheduler_step_post: _Handlers
    on_loss: _Handlers
    on_dropout: _Handlers
    on_batch_norm: _Handlers
    on_state_dict: _Handlers
    on_load_state_dict: _Handlers
    on_save: _Handlers
    on_clip: _Handlers
    on_grad_scale: _Handlers
    on_unscale: _Handlers
    on_loader_iter: _Handlers
    on_exception: _Handlers
    finish: _Handlers
    calls: tuple[collections.deque[CallRecord], ...]
    clocks: tuple[Clock, ...]
    inner: bool
    outer: bool
    no_grad_root_pre: _Handlers  # on_root_forward_pre / on_root_forward for the calls made
    no_grad_root: _Handlers  # without gradients (checks that set roots_without_grad)

    def __init__(self, watches: list[Subscriber] = ()) -> None:  # type: ignore[assignment]
        self.update(watches)

    def update(self, watches: list[Subscriber]) -> None:
        for event in EVENTS:
            setattr(self, event, tuple(h for w in watches for h in w.handlers(event)))
        self.calls = tuple(log for w in watches if (log := w.call_log()) is not None)
        self.clocks = tuple(w.clock for w in watches)
        self.no_grad_root_pre = _without_grad(self.on_root_forward_pre)
        self.no_grad_root = _without_grad(self.on_root_forward)
        # Is a module call inside another's forward wanted (when gradients are enabled)?
        self.inner = bool(self.on_module_forward or self.calls)
        # Is an outermost call wanted at all? If not, module calls keep no stack.
        self.outer = bool(self.inner or self.on_root_forward_pre or self.on_root_forward)


def _without_grad(handlers: _Handlers) -> _Handlers:
    """The handlers of checks that follow outermost calls made without gradients too."""
    return tuple(
        h for h in handlers if getattr(getattr(h, "__self__", None), "roots_without_grad", True)
    )


NO_ROUTE = Route()
