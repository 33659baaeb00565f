"""Checks of the 'gradients' family: what reaches ``.grad`` and what ``optimizer.step()`` uses.

grad-accumulation          a step uses gradients an earlier step already used
grads-cleared-before-step  the gradients of backward() are gone when step() runs
params-not-updating        an optimizer whose parameters never get gradients, or parameters
                           that get gradients but are in no optimizer
no-grad-training           backward() on a loss with no autograd graph
non-finite-loss            the loss became NaN or inf

One module per code (``grad_accumulation``, ``grads_cleared_before_step``,
``params_not_updating``, ``no_grad_training``, ``non_finite_loss``), each a rule over the
shared ``state``; ``GradientChecks`` below routes the events to them. The gradient
bookkeeping lives in ``_params`` (one hooked parameter per optimizer). The
hot path is one small record per module call with gradients, which the engine keeps for it
(weak references to its output, and to its input when that is the batch, read only when a
loss is non-finite or has no graph: ``watch.module_calls``), and one
``item()`` per backward(), which waits for the device on an accelerator (as logging the
loss does); the autograd graph is walked on a few backward() calls only (the first four,
then the 8th, 16th, ...), to find parameters that no optimizer holds.

Parameters that get gradients but are in no optimizer are judged only once an optimizer has
stepped, and only nn.Parameters that nothing else changes (a hand-written update bumps their
version) and that do not belong to a module in eval mode (a teacher or target network
whose gradients are merely wasted). Inputs given requires_grad (adversarial examples) are
plain tensors, never judged.
"""

from __future__ import annotations

from typing import Any

import torch

from .common import grad_norm
from .grad_accumulation import GradAccumulation
from .grads_cleared_before_step import GradsClearedBeforeStep
from .no_grad_training import NoGradTraining
from .non_finite_loss import NonFiniteLoss
from .params_not_updating import HAND_ORPHAN_AFTER, NEVER_AFTER, ParamsNotUpdating

_WALK_FIRST = 4  # backward() calls whose graph is walked, then at powers of two

__all__ = ["GradientChecks"]


class GradientChecks(
    NoGradTraining, NonFiniteLoss, GradAccumulation, GradsClearedBeforeStep, ParamsNotUpdating
):
    """grad-accumulation, grads-cleared-before-step, params-not-updating, no-grad-training,
    non-finite-loss: the events of the family, routed to the rule of each code."""

    family = "gradients"
    logs_module_calls = True
    roots_without_grad = False

    def on_backward(self, tensors: Any) -> None:
        if not self._hand.closed:
            self._hand_update_before_backward()
        self._backwards += 1
        self._tracker.backwards += 1
        n = self._backwards
        walk = n <= _WALK_FIRST or not n & (n - 1) or self._walk_next
        self._walk_next = False
        graphs = []
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                continue
            if t.grad_fn is None:
                self._no_graph(t)
                continue
            if walk:
                graphs.append(t)
            if t.is_floating_point():
                self._check_finite(t)
        self._last_graph = None
        if graphs:
            self._collect_leaves(graphs)
        forwards = self._forwards  # where the forwards of the next loss begin
        self._last_before_backward = forwards[-1] if forwards else None

    def _hand_update_before_backward(self) -> None:
        interval = self._hand.at_backward()
        if interval is not None and interval.updated:
            self._judge_hand_accumulation(interval)
            self._judge_hand_cleared(interval)
            if self._hand.updates == 1 and not self._steps:
                self._note_leaves_at_first_hand_update()
            elif self._hand.updates > HAND_ORPHAN_AFTER and not self._steps:
                self._judge_hand_orphans(self._hand.updates - 1)

    def on_step_pre(self, optimizer: Any) -> None:
        if not self._hand.closed:
            self._hand.close()  # an optimizer steps: judged at its steps from now on
        tracker = self._tracker
        state = tracker.optimizer(optimizer)
        if state.steps == 0 and self._steps:
            self._forget_decided_leaves()  # a new optimizer: judge what it leaves out again
        if self._lr_unknown:
            self._complete_learning_rate(state)
        if state.steps == 0 and state.serial not in self._first_norm:
            self._first_norm[state.serial] = grad_norm(state.params())
        sentinel = state.sentinel
        if sentinel is not None and sentinel.stale and tracker.take_stale(state):
            self._report_accumulation(state)
        elif state.snapshot:
            partly = tracker.partly_stale(state)
            if partly:
                self._report_accumulation(state, partly)
        self._touched_before_step = sentinel is not None and sentinel.touched
        if state.steps == 0:
            # The sentinel is hooked at the first step: its backward() went unseen, so the
            # first step is judged from the graph of the latest backward() instead.
            cleared = self._cleared_at_first_step(state)
        elif self._touched_before_step:
            cleared = tracker.cleared_since_backward(state)
        else:
            cleared = None  # no backward() reached these gradients since the last step
        if cleared:
            self._report_cleared(state, cleared)

    def on_step_post(self, optimizer: Any) -> None:
        tracker = self._tracker
        state = tracker.optimizer(optimizer)
        # A closure passed to step() ran its backward() inside the step: judge it now.
        sentinel = state.sentinel
        if sentinel is not None and sentinel.stale and tracker.take_stale(state):
            self._report_accumulation(state)
        if not self._touched_before_step and tracker.touched(state):
            cleared = tracker.cleared_since_backward(state)
            if cleared:
                self._report_cleared(state, cleared)
        tracker.after_step(state)
        self._steps += 1
        if self._undecided:
            self._decide_leaves()
        if self._suspects:
            self._drop_suspects_updated_by_hand()
        never = (
            state.steps >= NEVER_AFTER
            and not state.got_grad
            and "never" not in state.reported
            and not self._no_graph_seen
            and any(p.requires_grad for g in optimizer.param_groups for p in g["params"])
        )
        if never:
            self._report_never(state, self._orphans(self._suspects))

    def finish(self) -> None:
        if self._suspects and not self._orphans_reported:
            orphans = self._final_orphans()
            if orphans:
                self._report_orphans(orphans)
        self._leaves.clear()
        self._undecided.clear()
        self._suspects.clear()
