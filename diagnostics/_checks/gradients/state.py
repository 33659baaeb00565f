"""What the rules of the gradients family share: the recent module calls, the parameters met
in loss graphs, and the bookkeeping of each optimizer's gradients (``_params``)."""

from __future__ import annotations

import collections
import weakref
from typing import Any

import torch
from torch import nn

from ..._findings import Location
from .._base import CallRecord, Check
from .._hand_updates import HandUpdates
from .._params import ParamTracker
from .common import parameter_names, shape_text

LOSS_MEMORY = 200
ROOT_MEMORY = 32  # outermost models remembered (weakly) for naming parameters

_ref = weakref.ref


class Leaf:
    """A parameter met in a loss graph, remembered until it is judged."""

    __slots__ = ("checksum", "frozen", "label", "numel", "ref", "steps_seen", "version")

    def __init__(self, param: nn.Parameter, steps_seen: int) -> None:
        self.ref = weakref.ref(param)
        self.version = param._version
        self.steps_seen = steps_seen
        # Its values' checksum, taken at the first update by hand (an update through .data
        # moves no version counter); None in a loop with an optimizer.
        self.checksum: tuple[float, float] | None = None
        # Whether its module was in eval mode while training went on (None: not yet seen).
        self.frozen: bool | None = None
        # Its name and shape, and its size, noted while it is alive when it becomes a suspect:
        # a model made inside main() is gone by the time the watch ends and reports it.
        self.label = ""
        self.numel = param.numel()


class GradientState(Check):
    """The state of one watch's gradient checks, and the module calls they remember.

    Each finding code of the family is a rule (a mixin in the module named after the code)
    over this state; ``GradientChecks`` routes the events to them.
    """

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        self._tracker = ParamTracker(on_error=self.failed)  # a hook's own error
        self._hand = HandUpdates(on_error=self.failed)  # updates by hand, while no optimizer
        self._hand_stale = 0  # updates by hand in a row on gradients not cleared
        self._hand_norms: list[float] = []  # the gradient norm each update by hand used
        self._hand_moved_nothing = 0  # updates by hand in a row that moved nothing
        self._reported_once: set[str] = set()  # judgements made once per watch
        # The module calls the engine logs for the watch (logs_module_calls), newest last.
        self._forwards: collections.deque[CallRecord] = watch.module_calls
        self._last_before_backward: CallRecord | None = None  # the latest call at a backward
        self._losses: collections.deque[float] = collections.deque(maxlen=LOSS_MEMORY)
        self._backwards = 0
        self._steps = 0  # optimizer steps of every optimizer together
        self._leaves: dict[int, Leaf] = {}
        self._undecided: list[int] = []
        self._suspects: list[Leaf] = []
        self._orphan_location: Location | None = None
        self._orphan_context = ("", "")  # (hidden-modules text, optimizers) when last judged
        self._walk_next = False  # walk the next backward's graph (a new optimizer stepped)
        self._orphans_reported = False
        self._no_graph_seen = False
        self._non_finite: dict[str, Any] | None = None
        self._lr_unknown = False
        self._touched_before_step = False
        self._roots: dict[int, weakref.ref[nn.Module]] = {}  # outermost models called
        # The parameters the latest backward() reached, when its graph was walked.
        self._last_graph: set[int] | None = None
        self._stale_steps: dict[int, tuple[int, list[float], str]] = {}
        self._first_norm: dict[int, float] = {}

    def close(self) -> None:
        self._tracker.close()
        self._hand.close()

    # -- events -------------------------------------------------------------------------------
    def on_root_forward(self, module: Any, args: Any, output: Any) -> None:
        # Outermost calls with gradients only (roots_without_grad): one without them is in
        # the engine's log, as a whole forward.
        roots = self._roots
        known = roots.get(id(module))
        if known is None or known() is not module:
            if len(roots) >= ROOT_MEMORY:
                roots.pop(next(iter(roots)))
            roots[id(module)] = _ref(module)

    def _param_names(self, params: list[nn.Parameter], limit: int = 4) -> str:
        return join_labels([label for _, label in self._labelled(params)], limit)

    def _labelled(self, params: list[nn.Parameter]) -> list[tuple[nn.Parameter, str]]:
        """Each of ``params`` with its 'name (shape)', in the model's own order."""
        modules = [m for m, _, _ in self._live_forwards()]
        # The outermost models seen, for parameters whose modules left the recent calls.
        seen = {id(m) for m in modules}
        modules += [
            m for ref in self._roots.values() if (m := ref()) is not None and id(m) not in seen
        ]
        names = parameter_names(modules)
        order = {key: i for i, key in enumerate(names)}  # the model's own order
        params = sorted(params, key=lambda p: order.get(id(p), len(order)))
        return [(p, f"{names.get(id(p), 'unnamed parameter')} {shape_text(p)}") for p in params]

    def _live_forwards(self) -> list[tuple[nn.Module, torch.Tensor | None, torch.Tensor | None]]:
        """The modules still alive among those that ran lately, each with the input and output
        of its latest call (None when gone), in the order those latest calls returned."""
        latest: dict[int, tuple[nn.Module, torch.Tensor | None, torch.Tensor | None]] = {}
        for module_ref, in_ref, out_ref, _, _ in self._forwards:
            module = module_ref()
            if module is None:
                continue
            latest.pop(id(module), None)
            latest[id(module)] = (
                module,
                in_ref() if in_ref is not None else None,
                out_ref() if out_ref is not None else None,
            )
        return list(latest.values())


def join_labels(labels: list[str], limit: int = 4) -> str:
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return ", ".join(labels[:limit]) + more
