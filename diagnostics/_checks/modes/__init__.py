"""Checks of the 'modes' family: train-mode-in-eval, eval-mode-in-training, eval-without-no-grad.

Every mode fault is about one *root* forward: a module called from outside any other module's
forward (the user's ``model(x)``). The module hooks keep a stack of the modules running, so a
dropout or BatchNorm call knows its module and its root in O(1). At the end of a root forward
that matters, a small record is kept; it is judged at the next optimizer step (or the next
backward, or the end of the watch), once it is known whether a backward used the output:

* a forward with dropout or BatchNorm in training mode whose output no backward used before
  the next step of *this model's* optimizer was an evaluation: ``train-mode-in-eval``. (A GAN's
  generator forward for the discriminator step is followed by the discriminator's optimizer
  step, which holds none of the generator's parameters: it is not judged an evaluation.)
* a forward in eval mode with gradients enabled whose output a backward used, followed by a
  step of an optimizer over the model's trainable parameters: ``eval-mode-in-training``,
  provided dropout or BatchNorm layers in the trained part of the model are in eval mode
  (frozen BatchNorm, whose affine parameters do not train, is deliberate).
* a forward in eval mode with gradients enabled whose output required grad but that no
  backward used: ``eval-without-no-grad`` (info).

"Used by a backward" is a pre-hook on the output's ``grad_fn``: one per training forward of a
model with dropout or BatchNorm (a few microseconds), one per eval-mode forward with grad
enabled; plain evaluation under ``no_grad`` costs a couple of attribute reads per call. With
hand-written updates (no optimizer) a forward is judged after the second backward that follows
it; ``eval-mode-in-training`` needs an optimizer step. A functional ``F.dropout(...,
training=True)`` inside a module in eval mode is reported at once, at the call.

Deliberate patterns that stay silent: BatchNorm recalibration with ``momentum=None``
(``torch.optim.swa_utils.update_bn``), frozen BatchNorm in a model that is in training mode,
frozen teachers (their output does not require grad), EMA copies and teachers in training mode
(no optimizer holds their parameters), optimizing an input tensor through a model in eval mode,
activation checkpointing (its graph-free first pass and its recomputation during backward).
The module stack assumes one thread runs forwards (not nn.DataParallel's replicas).

Which layers depend on the mode, and how a finding names them, is in ``layers``; what is read
of a root forward (its call sites, its output's graph nodes, its model's mode-dependent layers)
is in ``forwards``; this module decides when a forward was an evaluation or a training one, and
reports.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.dropout import _DropoutNd
from torch.nn.utils.parametrize import ParametrizationList

from ..._findings import Location
from ..._location import is_user_frame
from .._base import Check, unreal
from .._hand_updates import value_checksum
from .forwards import (
    RootLayers,
    Site,
    call_chain,
    called_by_checkpoint,
    grad_fns,
    is_direct_call,
    run_by_torch,
    site_location,
    user_frames,
)
from .layers import (
    Layer,
    custom_train_layers,
    eval_mode_layers,
    join_names,
    path_in,
    train_mode_layers,
)

_FIX_TRAIN_IN_EVAL = (
    "Call model.eval() before evaluating and model.train() before training again; keep the "
    "evaluation under torch.no_grad()."
)
_FIX_FUNCTIONAL = (
    "Pass training=self.training to F.{name}() (or use an nn.Dropout module, which follows "
    "model.train() and model.eval())."
)
_FIX_LOOSE = (
    "Pass training=False to F.{name}() when evaluating, or call the model's eval() if this "
    "runs inside a module."
)
_FIX_EVAL_IN_TRAINING = (
    "Call model.train() at the start of every training epoch (after each validation), so "
    "training never runs with the modes that validation left behind."
)
_FIX_EVAL_WITHOUT_NO_GRAD = (
    "Wrap evaluation in `with torch.no_grad():` (or torch.inference_mode()); model.eval() "
    "switches dropout and BatchNorm to eval behaviour but does not stop graph building."
)
_CONSEQUENCE_DROPOUT = "dropout zeroes random activations, so the scores are noisy and too low"
_CONSEQUENCE_BN = (
    "BatchNorm normalizes with each batch's own statistics and overwrites its running "
    "statistics with the evaluation data"
)
_TRAINING_SITE = 3  # forwards in a row used by a backward that make a call site a training one
_SAMPLE = 64  # then one plain forward in this many is still followed there
_MAX_RECORDS = 512  # forwards awaiting judgement; more means no step ever comes: drop the oldest
_MAX_SITES = 1024  # direct callers remembered
_grad_enabled = torch.is_grad_enabled
_graph_task_id = torch._C._current_graph_task_id  # -1 unless autograd runs a backward
_CONSEQUENCE_CUSTOM = (
    "the custom layers {layers} run the branch of their forward() meant for training"
)


class _Record:
    """One root forward awaiting judgement.

    It holds its model strongly until judged (at the next optimizer step, at the latest when
    the watch ends), so that an evaluation at the end of a function whose model is then
    dropped is still reported.
    """

    __slots__ = ("bw", "eval", "frames", "grad", "layers", "root", "training", "used")

    def __init__(
        self,
        root: nn.Module,
        frames: tuple[Site, ...],
        bw: int,
        layers: list[Layer],
        *,
        eval: bool,
        grad: bool,
    ) -> None:
        self.root = root
        self.training = root.training
        self.layers = layers  # the dropout/BatchNorm calls active in training mode
        self.frames = frames
        self.bw = bw  # backwards started before this forward
        self.eval = eval  # root in eval mode with grad enabled (else: train-mode layers active)
        self.grad = grad
        self.used = False

    def mark_used(self, *_: Any) -> None:
        self.used = True


class ModeChecks(Check):
    """Dropout and BatchNorm modes that do not match what the forward is used for."""

    family = "modes"

    def __init__(self, watch: Any) -> None:
        super().__init__(watch)
        self._stack = self.watch.module_stack  # the modules whose forward runs, root first
        self._layers: list[Layer] = []  # this root forward's dropout/BatchNorm in training mode
        self._recalibrating = False  # ...ran a BatchNorm with momentum=None (update_bn)
        self._records: list[_Record] = []
        self._trained_in_eval: dict[int, _Record] = {}  # root id -> last used eval-mode forward
        self._backwards = 0
        self._reported: dict[Any, tuple[Location | None, dict[str, str], str]] = {}
        self._site_used: dict[Site, int] = {}  # call site -> forwards in a row a backward used
        self._skipped = 0
        # Roots that ran a forward in eval mode since the last backward: switched back to
        # training mode under no_grad, they run Monte-Carlo dropout on purpose.
        self._eval_seen: set[int] = set()
        # root id -> its mode-dependent layers, searched now and then
        self._roots: dict[int, RootLayers] = {}
        self._last_root: RootLayers | None = None  # the latest root's, looked up first
        # A root's direct caller (code, bytecode offset) -> its call site, when the caller is
        # the user's own frame: a plain model's training forwards skip the walk of the stack.
        # Keyed by the code's id (hashing a code object hashes its constants and names, every
        # time); the code is kept in the value, so that its id cannot be reused meanwhile.
        self._direct_sites: dict[tuple[int, int], tuple[Any, Site]] = {}
        self._optimizer_seen = False
        # root id -> (its first trained parameter's version and checksum at the last backward,
        # backward() calls in a row that found it changed): updates by hand, no optimizer.
        self._hand_marks: dict[int, tuple[tuple[int, tuple[float, float]], int]] = {}

    # -- root forwards (the engine keeps the stack of running modules) ------------------------
    def on_root_forward(self, module: nn.Module, args: Any, output: Any) -> None:
        # What the layers noted during this forward is taken, and cleared for the next one,
        # here: the end of a root forward comes even when the forward raised.
        layers, recalibrating = self._layers, self._recalibrating
        grad = _grad_enabled()
        info = self._last_root
        # The commonest forward without gradients (an action chosen, a target computed): a
        # plain model in training mode, the same as the last root, has nothing to judge.
        if (
            not grad
            and not layers
            and not recalibrating
            and info is not None
            and info.plain
            and info.refresh > 0
            and module.training
            and info.root() is module
        ):
            info.refresh -= 1
            return
        if layers:
            self._layers = []
        if recalibrating:
            self._recalibrating = False
        if info is None or info.root() is not module or info.refresh <= 0:
            if isinstance(module, ParametrizationList):
                return  # a parametrized weight (spectral_norm, weight_norm) read outside a forward
            info = self._last_root = self._info(module)
        info.refresh -= 1
        # A plain model (no layer that depends on the mode) in training mode: without
        # gradients there is nothing to judge; with them, most of its forwards come from a
        # call site known to train, decided without walking the stack.
        plain = module.training and info.plain and not layers
        if plain and not grad:
            return
        caller = sys._getframe(3)  # 0: here, 1 and 2: the engine's Module.__call__, 3: caller
        if plain and self._known_training_call(output, caller):
            return
        if run_by_torch(caller):
            return  # a trace, an export, a quantization step: not the user's forward
        self._root_done(module, output, layers, recalibrating, info, caller)

    def _known_training_call(self, output: Any, caller: Any) -> bool:
        if not isinstance(output, torch.Tensor) or output.grad_fn is None:
            return False
        known = self._direct_sites.get((id(caller.f_code), caller.f_lasti))
        if known is None or _graph_task_id() != -1:
            return False
        return self._training_site(known[1])

    # -- dropout and BatchNorm calls ----------------------------------------------------------
    def on_dropout(self, name: str, input: Any, p: float, training: bool, output: Any) -> None:
        if not training or not p:
            return
        stack = self._stack()
        if not stack:
            if not torch.is_grad_enabled():
                self._report_loose(f"F.{name}", f"p={p:g}", _FIX_LOOSE.format(name=name))
            return
        top = stack[-1]
        if top.training:
            self._layers.append((top, None if isinstance(top, _DropoutNd) else f"F.{name} p={p:g}"))
        else:
            self._report_functional(top, f"F.{name}", f"p={p:g}", _FIX_FUNCTIONAL.format(name=name))

    def on_batch_norm(
        self, input: Any, running_mean: Any, training: bool, momentum: Any, output: Any
    ) -> None:
        if not training or running_mean is None:
            return  # running statistics used, or not tracked: nothing is updated
        stack = self._stack()
        if not stack:
            if not torch.is_grad_enabled():
                self._report_loose(
                    "F.batch_norm",
                    "running statistics updated",
                    _FIX_LOOSE.format(name="batch_norm"),
                )
            return
        top = stack[-1]
        if getattr(top, "momentum", 0.1) is None:
            self._recalibrating = True  # cumulative average: a deliberate recalibration pass
        elif top.training:
            self._layers.append((top, None if isinstance(top, _BatchNorm) else "F.batch_norm"))
        else:
            self._report_functional(
                top,
                "F.batch_norm",
                "training=True",
                "Pass training=self.training to F.batch_norm().",
            )

    # -- the end of a root forward --------------------------------------------------------------
    def _root_done(
        self,
        root: nn.Module,
        output: Any,
        layers: list[Layer],
        recalibrating: bool,
        info: RootLayers,
        caller: Any,
    ) -> None:
        if not layers:
            layers = []  # its own list: the empty one is still self._layers, for the next forward
        custom: list[Layer] = []
        for ref in info.layers:
            layer = ref()
            if layer is not None and layer.training and all(m is not layer for m, _ in layers):
                custom.append((layer, None))
        layers += custom
        grad = torch.is_grad_enabled()
        if not root.training:
            self._eval_seen.add(id(root))
            if grad:
                self._track(root, output, layers, caller, eval=True)
            if not layers:
                return
        elif not layers and not info.rnn_dropout:
            if grad:  # a plain model: an unused graph here is an evaluation without no_grad
                self._track(root, output, layers, caller, eval=False, plain=True)
            return
        if root.training and not grad and id(root) in self._eval_seen:
            return  # eval() then train() with no training between: Monte-Carlo dropout
        if not recalibrating:
            self._track(root, output, layers, caller, eval=False)

    def _track(
        self,
        root: nn.Module,
        output: Any,
        layers: list[Layer],
        caller: Any,
        *,
        eval: bool,
        plain: bool = False,
    ) -> None:
        if torch._C._current_graph_task_id() != -1:
            return  # autograd runs this forward during a backward: a checkpoint's recompute
        grad = torch.is_grad_enabled()
        nodes = grad_fns(output) if grad else ()
        if (eval or plain) and not nodes:
            return  # nothing recorded for autograd: a frozen model, nothing to judge
        if not grad and called_by_checkpoint():
            return  # torch.utils.checkpoint's first, graph-free pass of a training forward
        # Training forwards are the common case: keep only their call site (one frame).
        frames = user_frames(2, 3 if not grad or eval else 1)
        if not frames or not is_direct_call(frames[0]):
            return  # called by a third-party library, not by the user's code
        if plain:
            if len(self._direct_sites) < _MAX_SITES and is_user_frame(caller):
                code = caller.f_code
                self._direct_sites[(id(code), caller.f_lasti)] = (code, frames[0])
            if self._training_site(frames[0]):
                return
        record = _Record(root, frames, self._backwards, layers, eval=eval, grad=grad)
        for node in nodes:
            node.register_prehook(record.mark_used)
        records = self._records
        records.append(record)
        if len(records) > _MAX_RECORDS:
            del records[: len(records) - _MAX_RECORDS]

    def _info(self, root: nn.Module) -> RootLayers:
        """The mode-dependent layers of ``root``: searched on its first forward, and again
        every CUSTOM_REFRESH forwards (layers may be added or swapped meanwhile)."""
        info = self._roots.get(id(root))
        if info is None or info.root() is not root or info.refresh <= 0:
            if info is None and len(self._roots) >= _MAX_RECORDS:
                self._roots.clear()  # models made and dropped in a loop: start over
            info = self._roots[id(root)] = RootLayers(root)
        return info

    def _training_site(self, site: Site) -> bool:
        """Skip most forwards of a plain model at a call site known to train.

        A plain model's forward is followed only to catch an evaluation that builds a graph;
        once a call site's forwards have reached a backward several times in a row, it is a
        training step: only one forward in _SAMPLE is followed there from then on.
        """
        if self._site_used.get(site, 0) < _TRAINING_SITE:
            return False
        self._skipped += 1
        return self._skipped % _SAMPLE != 0

    def _has_rnn_dropout(self, root: nn.Module) -> bool:
        """Does ``root`` hold an nn.RNN/LSTM/GRU with dropout between layers (no F.dropout)?"""
        return self._info(root).rnn_dropout

    # -- judgement -------------------------------------------------------------------------------
    def on_backward(self, tensors: Any) -> None:
        if self._eval_seen:
            self._eval_seen.clear()
        for t in tensors:
            if isinstance(t, torch.Tensor) and t.grad_fn is None:
                # A backward on a loss without a graph: the forwards since the last backward
                # were meant as training, run under no_grad or cut off by a detach
                # (no-grad-training names that fault), not evaluations.
                for record in self._records:
                    if record.bw == self._backwards and not record.eval:
                        record.used = True
                break
        # Forwards followed by two backwards and no optimizer step: the parameters are updated
        # by hand (or gradients accumulate); judge them without an optimizer to compare with.
        if self._records:
            self._judge(None, self._backwards - 1)
        self._backwards += 1
        if self._trained_in_eval and not self._optimizer_seen:
            self._judge_trained_in_eval_by_hand()

    def on_step_pre(self, optimizer: Any) -> None:
        self._optimizer_seen = True  # judged at its steps from now on
        if self._records:
            self._judge(optimizer, self._backwards)
        if self._trained_in_eval:
            self._judge_trained_in_eval(optimizer)

    def on_exception(self, exc: BaseException) -> None:
        # The run crashed before the backward that the latest forwards awaited (a loss that
        # raised on its shapes, a device error): what they were for can no longer be known.
        self._records = [r for r in self._records if not r.grad or r.bw < self._backwards]

    def finish(self) -> None:
        for record in self._records:
            if not self._set_up_check(record):
                self._verdict(record, None, final=True)
        self._records.clear()
        self._trained_in_eval.clear()
        self._hand_marks.clear()

    def _judge(self, optimizer: Any, done: int) -> None:
        """Judge the forwards that ``done`` backwards (all finished by now) came after."""
        records = self._records
        if not records:
            return
        if records[0].bw >= done:
            return  # even the oldest came after the last backward: too early to judge
        keep = []
        ids: set[int] | None = None
        for record in records:
            if record.bw >= done:
                keep.append(record)
            elif self._set_up_check(record):
                continue
            elif record.eval or not record.used:  # a used training forward is fine
                self._site_used[record.frames[0]] = 0
                if ids is None and optimizer is not None:
                    ids = _param_ids(optimizer)
                self._verdict(record, ids)
            else:
                site = record.frames[0]
                self._site_used[site] = self._site_used.get(site, 0) + 1
        self._records = keep

    def _set_up_check(self, record: _Record) -> bool:
        """A forward whose output no backward used, run before the first backward of a run
        that then trains: a check of the model before training (its output's shape, a
        baseline score), not the evaluation loop. Without training after it, it is judged."""
        return record.bw == 0 and not record.used and self._backwards > 0

    def _verdict(self, record: _Record, ids: set[int] | None, *, final: bool = False) -> None:
        """Judge one forward once a backward (and maybe a step) has followed it."""
        root = record.root
        if record.eval:
            if not record.used:
                self._report_eval_without_no_grad(root, record)
            else:
                self._trained_in_eval[id(root)] = record
            return
        if record.used:
            return
        params = [p for p in root.parameters() if p.requires_grad]
        if not params:
            return  # parameter-free or frozen (input noise, a frozen feature extractor)
        if ids is not None and not any(id(p) in ids for p in params):
            return  # another model's optimizer stepped (a GAN's D after G's forward)
        if not record.layers and not self._has_rnn_dropout(root):
            self._report_eval_without_no_grad(root, record)  # no layer behaved differently
            return
        self._report_train_in_eval(root, record, final=final)

    def _judge_trained_in_eval(self, optimizer: Any) -> None:
        """The first step after a backward through an eval-mode forward: did it train it?"""
        ids = _param_ids(optimizer)
        records = list(self._trained_in_eval.values())
        self._trained_in_eval.clear()
        for record in records:
            root = record.root
            if not any(p.requires_grad and id(p) in ids for p in root.parameters()):
                continue  # e.g. the optimizer holds an input tensor (adversarial examples)
            layers = eval_mode_layers(root, ids)  # modes as they are now, while it trains
            if layers:
                self._report_eval_in_training(root, record, optimizer, layers)

    def _judge_trained_in_eval_by_hand(self) -> None:
        """No optimizer steps, yet a backward went through a model in eval mode: it is trained
        by hand when its parameters keep changing between backward() calls (twice in a row;
        one change is a restore, none is a saliency map or an input attack)."""
        for key, record in list(self._trained_in_eval.items()):
            params = [p for p in record.root.parameters() if p.requires_grad and not unreal(p)]
            if not params:
                continue
            mark = (params[0]._version, value_checksum(params[0]))
            last = self._hand_marks.get(key)
            moved = 0 if last is None or last[0] == mark else last[1] + 1
            self._hand_marks[key] = (mark, moved)
            if moved < 2:
                continue
            del self._trained_in_eval[key]
            layers = eval_mode_layers(record.root, {id(p) for p in params})
            if layers:
                self._report_eval_in_training(record.root, record, None, layers)

    # -- reports -------------------------------------------------------------------------------
    def _report_train_in_eval(self, root: nn.Module, record: _Record, *, final: bool) -> None:
        key = ("train-mode-in-eval", id(root), record.frames[0])
        if key not in self._reported:
            dropouts, norms = train_mode_layers(root, record.layers)
            custom = custom_train_layers(root, record.layers)
            layers = dropouts + norms + custom
            name = _model_name(root)
            if not record.grad:
                context = "under torch.no_grad(), an evaluation"
            elif final:
                context = "with gradients enabled whose output no backward pass used"
            else:
                context = (
                    "with gradients enabled whose output no backward pass used before the next "
                    "optimizer step on its parameters: an evaluation"
                )
            effects = []
            if dropouts:
                effects.append(_CONSEQUENCE_DROPOUT)
            if norms:
                effects.append(_CONSEQUENCE_BN)
            if custom:
                effects.append(_CONSEQUENCE_CUSTOM.format(layers=join_names(custom)))
            mode = "in training mode" if record.training else "with layers in training mode"
            message = (
                f"{name} ran a forward pass {context}, {mode}: "
                f"{join_names(layers) or 'its dropout or BatchNorm layers'} "
                f"{'is' if len(layers) == 1 else 'are'} active. In training mode "
                f"{'; '.join(effects) or 'these layers behave randomly'}. model.eval() was "
                f"not called before evaluating."
            )
            evidence = {
                "model": f"{name} ({'training' if record.training else 'eval'} mode)",
                "layers in training mode": join_names(layers) or "(none found by module type)",
                "gradients": "enabled" if record.grad else "disabled (no_grad)",
            }
            if len(record.frames) > 1:
                evidence["called from"] = call_chain(record.frames[1:])
            self._reported[key] = (site_location(record.frames[0]), evidence, message)
        location, evidence, message = self._reported[key]
        self.emit(
            "train-mode-in-eval",
            key=key,
            message=message,
            fix=_FIX_TRAIN_IN_EVAL,
            location=location,
            evidence=evidence,
            subject=root,
        )

    def _report_functional(self, module: nn.Module, call: str, detail: str, fix: str) -> None:
        key = ("functional", id(module), call)
        if key not in self._reported:
            frames = user_frames(2, 4)
            owner = type(module).__name__
            path = path_in(self._stack()[0], module)
            where = f"{path} ({owner})" if path else owner
            message = (
                f"{owner}.forward calls {call}(..., training=True) ({detail}) while {where} is "
                f"in eval mode: the functional call does not follow model.eval(), so it stays "
                f"active during evaluation and makes the results random."
            )
            evidence = {"module": f"{where}, eval mode", "call": f"{call}, {detail}"}
            if len(frames) > 1:
                evidence["called from"] = call_chain(frames[1:])
            location = site_location(frames[0]) if frames else None
            self._reported[key] = (location, evidence, message)
        location, evidence, message = self._reported[key]
        self.emit(
            "train-mode-in-eval",
            key=key,
            message=message,
            fix=fix,
            location=location,
            evidence=evidence,
            subject=module,
        )

    def _report_loose(self, call: str, detail: str, fix: str) -> None:
        frames = user_frames(2, 3)
        site = frames[0] if frames else None
        key = ("loose", call, site)
        message = (
            f"{call}(..., training=True) ({detail}) ran under torch.no_grad(), outside any "
            f"module: an evaluation with the training behaviour switched on, so its results "
            f"are random."
        )
        evidence = {"call": f"{call}, {detail}"}
        if len(frames) > 1:
            evidence["called from"] = call_chain(frames[1:])
        self.emit(
            "train-mode-in-eval",
            key=key,
            message=message,
            fix=fix,
            location=site_location(site),
            evidence=evidence,
        )

    def _report_eval_in_training(
        self, root: nn.Module, record: _Record, optimizer: Any, layers: list[str]
    ) -> None:
        key = ("eval-mode-in-training", id(root), record.frames[0])
        if key not in self._reported:
            name = _model_name(root)
            if optimizer is None:
                trainer, then = (
                    "an update written by hand",
                    f"{name}'s parameters were then updated by hand",
                )
            else:
                trainer = type(optimizer).__name__
                then = f"the optimizer then stepped {name}'s parameters"
            message = (
                f"{name} is in eval mode while {trainer} trains it: a "
                f"backward pass went through this forward and {then}, but {join_names(layers)} "
                f"{'are' if len(layers) != 1 else 'is'} in eval mode. Dropout does nothing "
                f"and BatchNorm normalizes with its frozen running statistics instead of "
                f"learning them; model.eval() was called (for validation) and model.train() "
                f"was not called again."
            )
            evidence = {
                "model": f"{name} (eval mode)",
                "layers in eval mode": join_names(layers),
                "optimizer": "none (updated by hand)"
                if optimizer is None
                else type(optimizer).__name__,
            }
            if len(record.frames) > 1:
                evidence["called from"] = call_chain(record.frames[1:])
            self._reported[key] = (site_location(record.frames[0]), evidence, message)
        location, evidence, message = self._reported[key]
        self.emit(
            "eval-mode-in-training",
            key=key,
            message=message,
            fix=_FIX_EVAL_IN_TRAINING,
            location=location,
            evidence=evidence,
            subject=root,
        )

    def _report_eval_without_no_grad(self, root: nn.Module, record: _Record) -> None:
        # Models of one class evaluated at one line (an ensemble's members) make one finding.
        name = _model_name(root)
        key = ("eval-without-no-grad", name, record.frames[0])
        if key not in self._reported:
            mode = "training" if record.training else "eval"
            message = (
                f"{name} ran in {mode} mode with gradients enabled: autograd recorded a graph "
                f"for its output that no backward pass used, which costs memory and time "
                f"during evaluation."
            )
            evidence = {"model": f"{name} ({mode} mode)", "gradients": "enabled"}
            if len(record.frames) > 1:
                evidence["called from"] = call_chain(record.frames[1:])
            self._reported[key] = (site_location(record.frames[0]), evidence, message)
        location, evidence, message = self._reported[key]
        self.emit(
            "eval-without-no-grad",
            key=key,
            message=message,
            fix=_FIX_EVAL_WITHOUT_NO_GRAD,
            location=location,
            evidence=evidence,
            subject=root,
        )


def _param_ids(optimizer: Any) -> set[int]:
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


def _model_name(root: nn.Module) -> str:
    return type(root).__name__
