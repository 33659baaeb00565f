"""Checks of the 'gradients' family: what reaches ``.grad`` and what ``optimizer.step()`` uses.

grad-accumulation          a step uses gradients an earlier step already used
grads-cleared-before-step  the gradients of backward() are gone when step() runs
params-not-updating        an optimizer whose parameters never get gradients, or parameters
                           that get gradients but are in no optimizer
no-grad-training           backward() on a loss with no autograd graph
non-finite-loss            the loss became NaN or inf

The gradient bookkeeping lives in ``_params`` (one hooked parameter per optimizer). The
hot path is one small record per module call (weak references to its output, and to its
input when that is the batch, read only when a loss is non-finite or has no graph) and one
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

import collections
import math
import weakref
from typing import Any

import torch
from torch import nn

from .._findings import Location
from .._location import user_location
from ._base import Check
from ._params import OptimizerState, ParamTracker

# How many module calls to remember (weakly) for naming the first non-finite value.
_FORWARD_MEMORY = 2048
_LOSS_MEMORY = 200
_NORM_STEPS = 200  # steps of gradient-norm evidence computed for grad-accumulation
_NEVER_AFTER = 3  # steps without any gradient before an optimizer is called idle
_ORPHAN_AFTER = 3  # optimizer steps a parameter must stay unchanged to be called orphaned
_ROOT_MEMORY = 32  # outermost models remembered (weakly) for naming parameters
_WALK_FIRST = 4  # backward() calls whose graph is walked, then at powers of two
_WALK_LIMIT = 100_000  # autograd nodes visited at most per walk

GRAD_ACCUMULATION = (
    "optimizer.step() #{step} of {optimizer} used gradients that still held the earlier "
    "steps' gradients: backward() added this batch's gradients onto the ones step #{prev} had "
    "already applied, and nothing cleared them in between. PyTorch accumulates into .grad on "
    "purpose, so every step must start from cleared gradients; without that, each update "
    "repeats all the previous ones and the gradient keeps growing (norm {first} at step 1, "
    "{last} at step {step})."
)
GRAD_ACCUMULATION_FIX = (
    "Call optimizer.zero_grad() once per step, before loss.backward() (or right after "
    "optimizer.step()). To accumulate over k batches on purpose, call it after each "
    "optimizer.step(), so that no step reuses a previous step's gradients."
)
GRADS_CLEARED = (
    "optimizer.step() #{step} of {optimizer} ran after the gradients from backward() had been "
    "cleared: {how}. The step therefore uses none of this batch's gradient, so the update "
    "changes nothing it learned from the batch and the model does not train."
)
GRADS_CLEARED_FIX = (
    "Clear gradients before loss.backward() (or after optimizer.step()), never between "
    "backward() and step(): the order is zero_grad(), backward(), step()."
)
NEVER_GRADIENTS = (
    "{optimizer} stepped {steps} times, but none of its {count} parameter tensors ever received "
    "a gradient, although backward() ran {backwards} times. The backward passes reach other "
    "tensors, so this optimizer updates nothing and the model it should train stays as it "
    "was initialised."
)
NEVER_GRADIENTS_COPY = (
    " Meanwhile {orphans} parameter tensors that do receive gradients are in no optimizer "
    "({names}){same}: the optimizer was built over {what} instead of the model that runs "
    "forward()."
)
NEVER_GRADIENTS_FIX = (
    "Build the optimizer over the parameters of the model you train, e.g. "
    "torch.optim.{cls}(model.parameters(), ...), after the model is final (after any "
    "copy.deepcopy, re-creation or layer replacement), and train that same model object."
)
NO_BACKWARD = (
    "{optimizer} stepped {steps} times, but backward() never ran, so its parameters never had "
    "a gradient and every step changed nothing."
)
NO_BACKWARD_FIX = "Call loss.backward() before each optimizer.step()."
ORPHANS = (
    "{count} parameter tensors receive gradients from backward() but are in no optimizer "
    "({names}), and nothing else changes them: they keep their initial values while the rest "
    "of the model trains.{hidden}"
)
ORPHANS_HIDDEN = (
    " Their modules run inside {model} but are not registered in it (a plain Python list, "
    "dict or attribute of a non-Module), so {model}.parameters() never lists them."
)
ORPHANS_FIX = (
    "Pass them to the optimizer: build it over model.parameters() after every layer exists, and "
    "keep layers in nn.ModuleList / nn.ModuleDict (a plain Python list hides them from "
    "model.parameters()). If they are meant to stay frozen, call .requires_grad_(False) on "
    "them, which also saves the backward work."
)
NO_GRAPH = (
    "loss.backward() was called on a tensor that has no autograd graph (its grad_fn is None "
    "and it does not require grad): {cause} backward() has nothing to differentiate, so "
    "PyTorch raises 'element 0 of tensors does not require grad and does not have a "
    "grad_fn' and no parameter can learn."
)
LEAF_LOSS = (
    "loss.backward() was called on a leaf tensor: it requires grad but has no grad_fn, so it "
    "was made from a value computed without a graph (loss.requires_grad_(), or "
    "torch.tensor(value, requires_grad=True)). backward() stops at the loss itself: no "
    "parameter receives a gradient, and training silently does nothing. The graph was lost "
    "before that: {cause}"
)
LEAF_LOSS_FIX = (
    "{fix} Then drop the requires_grad_() (or requires_grad=True) on the loss: a loss that "
    "needs it has already lost its graph."
)
_CAUSES = {
    "inference": (
        "it was computed under torch.inference_mode(), which records no graph.",
        "Run the training forward pass outside torch.inference_mode(); keep inference mode "
        "for evaluation only.",
    ),
    "grad_off": (
        "gradient recording is off where backward() runs (inside torch.no_grad(), "
        "torch.set_grad_enabled(False) or a function decorated with @torch.no_grad()), so the "
        "forward pass recorded nothing.",
        "Take the training step out of torch.no_grad() / set_grad_enabled(False); use "
        "no_grad only around evaluation.",
    ),
    "frozen": (
        "every parameter of the model that produced it has requires_grad=False ({model}), so "
        "the forward pass needed no graph.",
        "Unfreeze what should train: model.requires_grad_(True), or requires_grad_(True) on "
        "the layers to fine-tune.",
    ),
    "no_grad_forward": (
        "the model's outputs have no graph although its parameters require grad, so the "
        "forward pass ran under torch.no_grad() (or inference mode).",
        "Run the training forward pass with gradient recording on: move it out of the "
        "torch.no_grad() block.",
    ),
    "detached": (
        "the model's outputs do have a graph, but the loss was cut off from it on the way "
        "(.detach(), .item(), .data, .numpy() or torch.tensor(...) make a tensor without "
        "history).",
        "Compute the loss with torch operations on the model's output itself; call .item() "
        "only for logging, after backward().",
    ),
    "unknown": (
        "the forward pass ran under torch.no_grad(), the loss was cut off from the graph "
        "(.detach(), .item(), torch.tensor(...)), or every parameter has requires_grad=False.",
        "Compute the loss from the model's output with gradient recording on and trainable "
        "parameters; call .item() only for logging, after backward().",
    ),
}
NON_FINITE = (
    "The loss became {value} at {when}. {culprit}A non-finite loss gives non-finite "
    "gradients, and once they reach the parameters every later step stays NaN."
)
NON_FINITE_PARAMS = (
    "The {where} are already non-finite: an earlier step applied non-finite gradients. "
)
NON_FINITE_INPUT = (
    "The {where} already holds NaN or inf: the data (or what ran before the model) is non-finite. "
)
NON_FINITE_OUTPUT = (
    "The first non-finite value is the {where}; every parameter was finite, so that module's "
    "computation overflowed or divided by zero. "
)
NON_FINITE_IN_LOSS = (
    "The model's output was finite, so the loss computation itself produced it (log of 0, "
    "division by zero) or the targets hold NaN or inf. "
)
NON_FINITE_FIX = (
    "Find where the first non-finite value appears: check the inputs and targets for NaN/inf, "
    "lower the learning rate or clip gradients (torch.nn.utils.clip_grad_norm_), and guard "
    "log, division and sqrt against zero (log(x + eps), F.log_softmax / F.cross_entropy on "
    "logits instead of log(softmax(x)))."
)


class _Leaf:
    """A parameter met in a loss graph, remembered until it is judged."""

    __slots__ = ("frozen", "ref", "steps_seen", "version")

    def __init__(self, param: nn.Parameter, steps_seen: int) -> None:
        self.ref = weakref.ref(param)
        self.version = param._version
        self.steps_seen = steps_seen
        # Whether its module was in eval mode while training went on (None: not yet seen).
        self.frozen: bool | None = None


class GradientChecks(Check):
    """grad-accumulation, grads-cleared-before-step, params-not-updating, no-grad-training,
    non-finite-loss."""

    family = "gradients"

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        self._tracker = ParamTracker(on_error=self._hook_failed)
        self._forwards: collections.deque[tuple[Any, Any, Any, bool]] = collections.deque(
            maxlen=_FORWARD_MEMORY
        )
        self._losses: collections.deque[float] = collections.deque(maxlen=_LOSS_MEMORY)
        self._backwards = 0
        self._steps = 0  # optimizer steps of every optimizer together
        self._leaves: dict[int, _Leaf] = {}
        self._undecided: list[int] = []
        self._suspects: list[_Leaf] = []
        self._orphan_location: Location | None = None
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

    def _hook_failed(self, where: str, exc: Exception) -> None:
        self.failed(where, exc)

    # -- events -------------------------------------------------------------------------------
    def on_module_forward(self, module: Any, args: Any, output: Any) -> None:
        # Weak references only, read back when a loss turns out non-finite or has no graph.
        # Inputs are kept when they need no gradient: the batch itself, while training (a NaN
        # in the data is then named as such); every other input is an earlier output.
        first = args[0] if args else None
        inp = None
        if isinstance(first, torch.Tensor) and not first.requires_grad:
            inp = weakref.ref(first)
        if not isinstance(output, torch.Tensor):
            if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
                output = output[0]
            else:
                self._forwards.append((weakref.ref(module), inp, None, False))
                return
        self._forwards.append((weakref.ref(module), inp, weakref.ref(output), output.requires_grad))

    def on_root_forward(self, module: Any, args: Any, output: Any) -> None:
        roots = self._roots
        known = roots.get(id(module))
        if known is None or known() is not module:
            if len(roots) >= _ROOT_MEMORY:
                roots.pop(next(iter(roots)))
            roots[id(module)] = weakref.ref(module)

    def on_backward(self, tensors: Any) -> None:
        self._backwards += 1
        self._tracker.backwards += 1
        n = self._backwards
        walk = n <= _WALK_FIRST or not n & (n - 1)
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

    def on_step_pre(self, optimizer: Any) -> None:
        state = self._tracker.optimizer(optimizer)
        if self._lr_unknown and self._non_finite is not None:
            self._lr_unknown = False
            self._non_finite["evidence"]["learning rate"] = _learning_rates([state])
            self.watch.update("non-finite-loss", key="loss", evidence=self._non_finite["evidence"])
        if state.steps == 0 and state.serial not in self._first_norm:
            self._first_norm[state.serial] = _grad_norm(state.params())
        if self._tracker.take_stale(state):
            self._report_accumulation(state)
        else:
            partly = self._tracker.partly_stale(state)
            if partly:
                self._report_accumulation(state, partly)
        self._touched_before_step = self._tracker.touched(state)
        if state.steps == 0:
            # The sentinel is hooked at the first step: its backward() went unseen, so the
            # first step is judged from the graph of the latest backward() instead.
            cleared = self._cleared_at_first_step(state)
        else:
            cleared = self._tracker.cleared_since_backward(state)
        if cleared:
            self._report_cleared(state, cleared)

    def on_step_post(self, optimizer: Any) -> None:
        state = self._tracker.optimizer(optimizer)
        # A closure passed to step() ran its backward() inside the step: judge it now.
        if self._tracker.take_stale(state):
            self._report_accumulation(state)
        if not self._touched_before_step and self._tracker.touched(state):
            cleared = self._tracker.cleared_since_backward(state)
            if cleared:
                self._report_cleared(state, cleared)
        self._tracker.after_step(state)
        self._steps += 1
        if self._undecided:
            self._decide_leaves()
        never = (
            state.steps >= _NEVER_AFTER
            and not state.got_grad
            and "never" not in state.reported
            and not self._no_graph_seen
            and any(p.requires_grad for g in optimizer.param_groups for p in g["params"])
        )
        if never:
            self._report_never(state, self._orphans(self._suspects))

    def finish(self) -> None:
        if self._suspects and not self._orphans_reported:
            orphans = self._orphans(self._suspects)
            if orphans:
                self._report_orphans(orphans)
        self._forwards.clear()
        self._leaves.clear()
        self._undecided.clear()
        self._suspects.clear()

    # -- no-grad-training ---------------------------------------------------------------------
    def _no_graph(self, t: torch.Tensor) -> None:
        self._no_graph_seen = True
        if t.requires_grad:
            if isinstance(t, nn.Parameter):
                return  # backward() on a parameter itself: odd, but it has no loss to explain
            cause, model = self._no_graph_cause(t)
            text, fix = _CAUSES[cause]
            self.emit(
                "no-grad-training",
                message=LEAF_LOSS.format(cause=text.format(model=model)),
                fix=LEAF_LOSS_FIX.format(fix=fix),
                evidence={
                    "loss": f"{_shape(t)} leaf tensor, requires_grad=True, grad_fn=None",
                    "grad mode at backward()": "on" if torch.is_grad_enabled() else "off",
                },
            )
            return
        cause, model = self._no_graph_cause(t)
        text, fix = _CAUSES[cause]
        self.emit(
            "no-grad-training",
            message=NO_GRAPH.format(cause=text.format(model=model)),
            fix=fix,
            evidence={
                "loss": f"{_shape(t)} tensor, requires_grad=False, grad_fn=None",
                "grad mode at backward()": "on" if torch.is_grad_enabled() else "off",
                "inference mode": "on" if torch.is_inference_mode_enabled() else "off",
            },
        )

    def _no_graph_cause(self, t: torch.Tensor) -> tuple[str, str]:
        if t.is_inference() or torch.is_inference_mode_enabled():
            return "inference", ""
        if not torch.is_grad_enabled():
            return "grad_off", ""
        # The modules that ran last, with parameters: did their outputs record a graph?
        recent: list[tuple[nn.Module, bool]] = []
        callers: list[nn.Module] = []
        for module_ref, _, _, recorded in reversed(self._forwards):
            module = module_ref()
            if module is None:
                continue
            callers.append(module)
            if module._parameters:
                recent.append((module, recorded))
                if len(recent) >= 64:
                    break
        if not recent:
            return "unknown", ""
        modules = [m for m, _ in recent]
        if not any(p.requires_grad for m in modules for p in m.parameters(recurse=False)):
            return "frozen", type(_outermost(callers)).__name__
        trainable = [rec for m, rec in recent if any(p.requires_grad for p in m.parameters())]
        return ("detached" if any(trainable) else "no_grad_forward"), ""

    # -- non-finite-loss ----------------------------------------------------------------------
    def _check_finite(self, t: torch.Tensor) -> None:
        if t.numel() == 1:
            value = t.item()
            self._losses.append(value)
            if math.isfinite(value):
                return
        else:
            with torch.no_grad():
                if bool(torch.isfinite(t).all()):
                    return
            value = float("nan")
        self._report_non_finite(t, value)

    def _report_non_finite(self, t: torch.Tensor, value: Any) -> None:
        if self._non_finite is not None:  # the first occurrence holds the story; count the rest
            self.emit("non-finite-loss", key="loss", **self._non_finite)
            return
        step = max((s.steps for s in self._tracker.optimizers()), default=0) + 1
        when = f"training step {step} (backward() call {self._backwards})"
        lrs = _learning_rates(self._tracker.optimizers())
        self._lr_unknown = not lrs  # filled in when an optimizer first steps
        lrs = lrs or "unknown (no optimizer stepped yet)"
        culprit, evidence = self._non_finite_culprit()
        losses = list(self._losses)
        finite = [v for v in losses if math.isfinite(v)]
        evidence = {
            "step": str(step),
            "loss": _fmt(value) if t.numel() == 1 else f"non-finite values in a {_shape(t)} tensor",
            "last finite loss": _fmt(finite[-1]) if finite else "none",
            "learning rate": lrs,
            **evidence,
        }
        self._non_finite = {
            "message": NON_FINITE.format(
                value=_fmt(value) if t.numel() == 1 else "non-finite",
                when=when,
                culprit=culprit,
            ),
            "fix": NON_FINITE_FIX,
            "location": user_location(),
            "evidence": evidence,
            "series": {"loss": losses} if losses else None,
        }
        self.emit("non-finite-loss", key="loss", **self._non_finite)

    def _non_finite_culprit(self) -> tuple[str, dict[str, str]]:
        """Where the first non-finite value shows among the modules that just ran: their
        parameters, else the first input or output (in call order) that can still be read."""
        calls = self._live_forwards()
        names = _qualified_names([module for module, _, _ in calls])

        def label(module: nn.Module) -> str:
            return names.get(id(module), type(module).__name__)

        with torch.no_grad():
            for module, _, _ in calls:
                bad = [n for n, p in module.named_parameters(recurse=False) if not _finite(p)]
                if bad:
                    where = f"parameters of {label(module)} ({', '.join(bad)})"
                    return NON_FINITE_PARAMS.format(where=where), {"first non-finite value": where}
            for module, inp, out in calls:
                if inp is not None and not _finite(inp):
                    where = f"input of {label(module)}"
                    return NON_FINITE_INPUT.format(where=where), {"first non-finite value": where}
                if out is not None and not _finite(out):
                    where = f"output of {label(module)}"
                    return NON_FINITE_OUTPUT.format(where=where), {"first non-finite value": where}
        if calls and calls[-1][2] is not None:
            where = f"none up to the output of {label(calls[-1][0])}"
            return NON_FINITE_IN_LOSS, {"first non-finite value": where}
        return "", {}

    # -- grad-accumulation / grads-cleared-before-step ----------------------------------------
    def _report_accumulation(
        self, state: OptimizerState, stale: list[torch.Tensor] | None = None
    ) -> None:
        step = state.steps + 1
        params = state.params()
        if stale is None:
            stale = [p for p in params if p.grad is not None]
        first_stale, norms, name = self._stale_steps.setdefault(
            state.serial, (step, [], _describe(state))
        )
        if len(norms) < _NORM_STEPS:
            norms.append(_grad_norm(params))
        first = self._first_norm.get(state.serial, float("nan"))
        key = ("grad-accumulation", state.serial)
        series = {"gradient norm at each step": [first, *norms]}
        evidence = {
            "optimizer": name,
            "first step on stale gradients": f"#{first_stale}",
            "parameters concerned": f"{len(stale)} of {len(params)} tensors "
            f"({sum(p.numel() for p in stale):,} values)",
            "gradient norm": f"{_fmt(first)} at step 1, {_fmt(norms[-1])} at step "
            f"{first_stale + len(norms) - 1}",
        }
        self.emit(
            "grad-accumulation",
            key=key,
            subject=state.ref,
            message=GRAD_ACCUMULATION.format(
                step=step,
                prev=step - 1,
                optimizer=_describe(state),
                first=_fmt(first),
                last=_fmt(norms[-1]),
            ),
            fix=GRAD_ACCUMULATION_FIX,
            evidence=evidence,
            series=series,
        )
        if len(norms) > 1 and len(norms) <= _NORM_STEPS:
            self.watch.update("grad-accumulation", key=key, evidence=evidence, series=series)

    def _cleared_at_first_step(self, state: OptimizerState) -> list[torch.Tensor] | None:
        """The optimizer's parameters, if the latest backward() reached some of them and every
        one of their gradients is now None; otherwise None. (Gradients that are all zero are
        not judged here: backward() itself can produce them, e.g. a loss multiplied by 0.)"""
        reached = self._last_graph
        if not reached or "first-step" in state.reported:
            return None
        state.reported.add("first-step")  # asked once per optimizer
        params = [p for p in state.params() if p.requires_grad]
        if not any(id(p) in reached for p in params):
            return None
        if any(p.grad is not None for p in params):
            return None
        return params

    def _report_cleared(self, state: OptimizerState, cleared: list[torch.Tensor]) -> None:
        none = sum(p.grad is None for p in cleared)
        if none == len(cleared):
            how = f"all {len(cleared)} gradients backward() produced were set to None"
        elif none == 0:
            how = f"all {len(cleared)} gradients backward() produced were zeroed in place"
        else:
            how = (
                f"of the {len(cleared)} gradients backward() produced, {none} were set to None "
                f"and {len(cleared) - none} zeroed"
            )
        self.emit(
            "grads-cleared-before-step",
            key=("grads-cleared-before-step", state.serial),
            subject=state.ref,
            message=GRADS_CLEARED.format(step=state.steps + 1, optimizer=_describe(state), how=how),
            fix=GRADS_CLEARED_FIX,
            evidence={
                "optimizer": _describe(state),
                "step": str(state.steps + 1),
                "gradients cleared": f"{len(cleared)} tensors ({none} None, "
                f"{len(cleared) - none} all zero)",
            },
        )

    # -- params-not-updating ------------------------------------------------------------------
    def _collect_leaves(self, tensors: list[torch.Tensor]) -> None:
        params = _graph_parameters(tensors)
        self._last_graph = {id(p) for p in params}
        for param in params:
            if id(param) in self._leaves and self._leaves[id(param)].ref() is param:
                continue
            self._leaves[id(param)] = _Leaf(param, self._steps)
            self._undecided.append(id(param))

    def _decide_leaves(self) -> None:
        """Sort the graph parameters seen long enough ago: those that no optimizer holds and
        nothing changed become suspects, judged again (and reported) when the watch ends, by
        which time an optimizer that steps late (a generator after its critic) has shown up."""
        ready = {
            i for i in self._undecided if self._steps - self._leaves[i].steps_seen >= _ORPHAN_AFTER
        }
        if not ready:
            return
        self._undecided = [i for i in self._undecided if i not in ready]
        leaves = [self._leaves[i] for i in ready]
        if self._orphans(leaves):
            self._suspects.extend(leaves)
            if self._orphan_location is None:
                self._orphan_location = user_location()

    def _orphans(self, leaves: list[_Leaf]) -> list[nn.Parameter]:
        """The parameters among ``leaves`` that no optimizer holds and nothing changed."""
        candidates = []
        optimized = self._tracker.optimized_ids()
        for leaf in leaves:
            param = leaf.ref()
            if param is None or not param.requires_grad or id(param) in optimized:
                continue
            if param._version != leaf.version:  # updated by hand (or by anything else)
                continue
            candidates.append((leaf, param))
        if not candidates:
            return []
        owners = _owners([m for m, _, _ in self._live_forwards()])
        # A module in eval mode whose parameters no optimizer holds is a frozen reference
        # (a teacher, a target network): its gradients are a waste, not a lost update. Its
        # mode is read while training goes on (the first time it is judged, at a step), not
        # when the watch ends, after a final evaluation put every module in eval mode.
        out = []
        for leaf, param in candidates:
            if leaf.frozen is None:
                owner = owners.get(id(param))
                leaf.frozen = owner is not None and not owner.training
            if not leaf.frozen:
                out.append(param)
        return out

    def on_load_state_dict(self, module: Any, state_dict: Any) -> None:
        # load_state_dict() copies into the parameters in place: one version each, which is
        # a restore (best weights, a checkpoint), not an update by hand.
        if not self._leaves or not hasattr(state_dict, "keys"):
            return
        keys = set(state_dict.keys())
        for name, param in module.named_parameters():
            leaf = self._leaves.get(id(param))
            if name in keys and leaf is not None and leaf.ref() is param:
                leaf.version += 1

    def _report_never(self, state: OptimizerState, orphans: list[nn.Parameter]) -> None:
        state.reported.add("never")
        opt = state.optimizer
        count = len(state.params())
        if self._backwards == 0:
            message = NO_BACKWARD.format(optimizer=_describe(state), steps=state.steps)
            fix = NO_BACKWARD_FIX
        else:
            message = NEVER_GRADIENTS.format(
                optimizer=_describe(state),
                steps=state.steps,
                count=count,
                backwards=self._backwards,
            )
            if orphans:
                same = sorted(tuple(p.shape) for p in orphans) == sorted(
                    tuple(p.shape) for p in state.params()
                )
                message += NEVER_GRADIENTS_COPY.format(
                    orphans=len(orphans),
                    names=self._param_names(orphans),
                    same=", with exactly the shapes of the optimizer's parameters" if same else "",
                    what="a copy of the model (copy.deepcopy)" if same else "another model",
                )
                self._orphans_reported = True
            fix = NEVER_GRADIENTS_FIX.format(cls=type(opt).__name__ if opt else "SGD")
        self.emit(
            "params-not-updating",
            key=("never", state.serial),
            subject=state.ref,
            message=message,
            fix=fix,
            evidence={
                "optimizer": _describe(state),
                "steps": str(state.steps),
                "backward() calls": str(self._backwards),
                "its parameters with a gradient": f"0 of {count}",
                **({"parameters in no optimizer": self._param_names(orphans)} if orphans else {}),
            },
        )

    def _report_orphans(self, orphans: list[nn.Parameter]) -> None:
        self._orphans_reported = True
        names = self._param_names(orphans)
        modules = [m for m, _, _ in self._live_forwards()]
        owners = _owners(modules)
        registered = {id(sub) for m in modules for sub in m.modules() if sub is not m}
        hosts = [m for m in modules if id(m) not in registered and m not in owners.values()]
        hidden = ""
        if hosts and all(
            (o := owners.get(id(p))) is not None and id(o) not in registered for p in orphans
        ):
            hidden = ORPHANS_HIDDEN.format(model=type(_outermost(hosts)).__name__)
        self.emit(
            "params-not-updating",
            key="orphans",
            subject=orphans[0],
            location=self._orphan_location,
            message=ORPHANS.format(count=len(orphans), names=names, hidden=hidden),
            fix=ORPHANS_FIX,
            evidence={
                "parameters in no optimizer": names,
                "values never updated": f"{sum(p.numel() for p in orphans):,}",
                "optimizers": ", ".join(_describe(s) for s in self._tracker.optimizers()),
            },
        )

    def _param_names(self, params: list[nn.Parameter], limit: int = 4) -> str:
        modules = [m for m, _, _ in self._live_forwards()]
        # The outermost models seen, for parameters whose modules left the recent calls.
        seen = {id(m) for m in modules}
        modules += [
            m for ref in self._roots.values() if (m := ref()) is not None and id(m) not in seen
        ]
        names = _parameter_names(modules)
        order = {key: i for i, key in enumerate(names)}  # the model's own order
        params = sorted(params, key=lambda p: order.get(id(p), len(order)))
        shown = [f"{names.get(id(p), 'unnamed parameter')} {_shape(p)}" for p in params[:limit]]
        more = f" and {len(params) - limit} more" if len(params) > limit else ""
        return ", ".join(shown) + more

    def _live_forwards(self) -> list[tuple[nn.Module, torch.Tensor | None, torch.Tensor | None]]:
        """The modules still alive among those that ran lately, each with the input and output
        of its latest call (None when gone), in the order those latest calls returned."""
        latest: dict[int, tuple[nn.Module, torch.Tensor | None, torch.Tensor | None]] = {}
        for module_ref, in_ref, out_ref, _ in self._forwards:
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


# -- helpers --------------------------------------------------------------------------------
def _grad_norm(params: Any) -> float:
    """The total 2-norm of the gradients (read only; one scalar)."""
    total = 0.0
    with torch.no_grad():
        for p in params:
            g = p.grad
            if g is None or g.is_sparse:
                continue
            total += float(torch.linalg.vector_norm(g.detach().float())) ** 2
    return math.sqrt(total)


def _graph_parameters(tensors: list[torch.Tensor]) -> list[nn.Parameter]:
    """The nn.Parameters a backward() from ``tensors`` will write gradients into."""
    stack = [t.grad_fn for t in tensors if t.grad_fn is not None]
    seen: set[Any] = set()
    out = []
    while stack and len(seen) < _WALK_LIMIT:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        var = getattr(fn, "variable", None)  # AccumulateGrad nodes hold the leaf
        if var is not None:
            if isinstance(var, nn.Parameter):
                out.append(var)
            continue
        for nxt, _ in fn.next_functions:
            if nxt is not None and nxt not in seen:
                stack.append(nxt)
    return out


def _owners(modules: list[nn.Module]) -> dict[int, nn.Module]:
    """Parameter id -> the module that registers it directly."""
    return {id(p): m for m in modules for p in m._parameters.values() if p is not None}


def _qualified_names(modules: list[nn.Module]) -> dict[int, str]:
    """Module id -> 'path (Class)' in the largest of ``modules`` that contains it."""
    out: dict[int, str] = {}
    for root in modules:
        for path, sub in root.named_modules():
            label = f"{path} ({type(sub).__name__})" if path else type(sub).__name__
            if len(label) >= len(out.get(id(sub), "")):
                out[id(sub)] = label
    return out


def _parameter_names(modules: list[nn.Module]) -> dict[int, str]:
    """Parameter id -> its longest dotted name among ``modules`` ('Linear.weight' for one
    that only its own module holds), in the order of the largest module's parameters."""
    out: dict[int, str] = {}
    for root in sorted(modules, key=lambda m: -sum(1 for _ in m.modules())):
        for name, p in root.named_parameters():
            if "." not in name:
                name = f"{type(root).__name__}.{name}"
            if id(p) not in out or out[id(p)].count(".") < name.count("."):
                out[id(p)] = name
    return out


def _outermost(modules: list[nn.Module]) -> nn.Module:
    return max(modules, key=lambda m: sum(1 for _ in m.modules()))


def _learning_rates(states: list[OptimizerState]) -> str:
    parts = []
    for state in states:
        opt = state.optimizer
        if opt is None:
            continue
        lrs = ", ".join(_fmt(float(g["lr"])) for g in opt.param_groups)
        parts.append(f"{type(opt).__name__} lr={lrs}")
    return "; ".join(parts)


def _describe(state: OptimizerState) -> str:
    opt = state.optimizer
    if opt is None:
        return "the optimizer"
    lrs = ", ".join(_fmt(float(g["lr"])) for g in opt.param_groups)
    return f"{type(opt).__name__} (lr={lrs})"


def _finite(t: torch.Tensor) -> bool:
    return not t.is_floating_point() or bool(torch.isfinite(t).all())


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def _fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else str(v)
