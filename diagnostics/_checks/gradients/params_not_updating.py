"""params-not-updating: an optimizer whose parameters never get gradients, or parameters
that get gradients but are in no optimizer."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..._location import user_location
from .._base import unreal
from .._hand_updates import value_checksum
from .._params import OptimizerState
from .common import describe, graph_parameters, outermost, owning_modules
from .state import GradientState, Leaf, join_labels

NEVER_AFTER = 3  # steps without any gradient before an optimizer is called idle
_ORPHAN_AFTER = 3  # optimizer steps a parameter must stay unchanged to be called orphaned
HAND_ORPHAN_AFTER = 4  # updates by hand a parameter must stay unchanged to be called orphaned

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
    "({names}), and nothing else changes them: they keep their values while the rest of the "
    "model trains.{hidden}"
)

ORPHANS_BY_HAND = (
    "{count} parameter tensors receive gradients from backward() but the update written by "
    "hand never changes them ({names}): after {updates} updates of the rest of the model they "
    "still hold their initial values."
)

ORPHANS_BY_HAND_FIX = (
    "Update every parameter that should train: loop over model.parameters() (not a subset, "
    "not a copy), in place (p -= lr * p.grad under torch.no_grad(), or "
    "p.data.add_(p.grad, alpha=-lr)). If they are meant to stay frozen, call "
    ".requires_grad_(False) on them, which also saves the backward work."
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


class ParamsNotUpdating(GradientState):
    """Finds the parameters of loss graphs that no optimizer holds, and optimizers that get
    no gradient."""

    def _collect_leaves(self, tensors: list[torch.Tensor]) -> None:
        params = graph_parameters(tensors)
        self._last_graph = {id(p) for p in params}
        if not self._steps:
            self._hand.follow(params)  # no optimizer yet: maybe the updates are by hand
        for param in params:
            if id(param) in self._leaves and self._leaves[id(param)].ref() is param:
                continue
            self._leaves[id(param)] = Leaf(param, self._steps)
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
        orphans = self._orphans(leaves)
        if orphans:
            self._suspects.extend(leaves)
            self._note_orphans(leaves, orphans)
            if self._orphan_location is None:
                self._orphan_location = user_location()

    def _note_orphans(self, leaves: list[Leaf], orphans: list[nn.Parameter]) -> None:
        """Note what a report of ``orphans`` says of them while they are alive: a model made
        inside a function is gone when the watch ends, and its orphans are still reported."""
        labels = {id(p): label for p, label in self._labelled(orphans)}
        for leaf in leaves:
            param = leaf.ref()
            if param is not None and id(param) in labels:
                leaf.label = labels[id(param)]
        optimizers = ", ".join(describe(s) for s in self._tracker.optimizers())
        self._orphan_context = (self._hidden_text(orphans), optimizers)

    def _drop_suspects_updated_by_hand(self) -> None:
        """At each step: a suspect that changed in place since it was judged is updated by
        hand while training goes on, not forgotten. (A change after the last step is a
        restore, best weights copied back: it does not clear a suspect.) A suspect that is
        gone kept its values to the end of its life: it stays, if it was an orphan."""
        kept = []
        for leaf in self._suspects:
            param = leaf.ref()
            if param is None:
                if leaf.label:
                    kept.append(leaf)
            elif param._version == leaf.version:
                kept.append(leaf)
        self._suspects = kept

    def _forget_decided_leaves(self) -> None:
        """A new optimizer steps after others: what it leaves out is judged again (a model
        pretrained whole, then fine-tuned with an optimizer over its head only), from the
        graph of the next backward()."""
        waiting = set(self._undecided)
        waiting.update(id(p) for leaf in self._suspects if (p := leaf.ref()) is not None)
        self._leaves = {key: leaf for key, leaf in self._leaves.items() if key in waiting}
        self._walk_next = True

    def _final_orphans(self) -> list[Leaf]:
        """The suspects still orphaned as the watch ends: the living ones judged again (an
        optimizer may have shown up late), and the ones gone meanwhile, as they were."""
        alive = [leaf for leaf in self._suspects if leaf.ref() is not None]
        still = {id(p) for p in self._orphans(alive, versions=False)}
        final = []
        for leaf in self._suspects:
            param = leaf.ref()
            if (param is None and leaf.label) or (param is not None and id(param) in still):
                final.append(leaf)
        return final

    def _hidden_text(self, orphans: list[nn.Parameter]) -> str:
        """ORPHANS_HIDDEN when the orphans' modules run inside a model that does not register
        them, else ''."""
        modules = [m for m, _, _ in self._live_forwards()]
        owners = owning_modules(modules)
        registered = {id(sub) for m in modules for sub in m.modules() if sub is not m}
        hosts = [m for m in modules if id(m) not in registered and m not in owners.values()]
        if hosts and all(
            (o := owners.get(id(p))) is not None and id(o) not in registered for p in orphans
        ):
            return ORPHANS_HIDDEN.format(model=type(outermost(hosts)).__name__)
        return ""

    def _orphans(self, leaves: list[Leaf], *, versions: bool = True) -> list[nn.Parameter]:
        """The parameters among ``leaves`` that no optimizer holds and nothing changed (with
        ``versions`` False, changes are not looked at: they were, at every step)."""
        candidates = []
        optimized = self._tracker.optimized_ids()
        for leaf in leaves:
            param = leaf.ref()
            if param is None or not param.requires_grad or id(param) in optimized:
                continue
            if versions and param._version != leaf.version:  # updated by hand, or anything
                continue
            candidates.append((leaf, param))
        if not candidates:
            return []
        owners = owning_modules([m for m, _, _ in self._live_forwards()])
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
            message = NO_BACKWARD.format(optimizer=describe(state), steps=state.steps)
            fix = NO_BACKWARD_FIX
        else:
            message = NEVER_GRADIENTS.format(
                optimizer=describe(state),
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
                "optimizer": describe(state),
                "steps": str(state.steps),
                "backward() calls": str(self._backwards),
                "its parameters with a gradient": f"0 of {count}",
                **({"parameters in no optimizer": self._param_names(orphans)} if orphans else {}),
            },
        )

    def _report_orphans(self, leaves: list[Leaf]) -> None:
        self._orphans_reported = True
        alive = [p for leaf in leaves if (p := leaf.ref()) is not None]
        unlabelled = [p for leaf in leaves if not leaf.label and (p := leaf.ref()) is not None]
        if unlabelled:
            self._note_orphans(leaves, unlabelled)
        hidden, optimizers = self._orphan_context
        labels = [leaf.label for leaf in leaves]
        if len(alive) == len(leaves):  # all still here: as they stand now
            hidden = self._hidden_text(alive)
            optimizers = ", ".join(describe(s) for s in self._tracker.optimizers()) or optimizers
            labels = [label for _, label in self._labelled(alive)]  # the model's own order
        names = join_labels(labels)
        self.emit(
            "params-not-updating",
            key="orphans",
            subject=alive[0] if alive else leaves[0].ref,
            location=self._orphan_location,
            message=ORPHANS.format(count=len(leaves), names=names, hidden=hidden),
            fix=ORPHANS_FIX,
            evidence={
                "parameters in no optimizer": names,
                "values never updated": f"{sum(leaf.numel for leaf in leaves):,}",
                "optimizers": optimizers,
            },
        )

    def _note_leaves_at_first_hand_update(self) -> None:
        """The first update by hand: note every graph parameter's values, to tell after a few
        more updates the ones that never moved."""
        for leaf in self._leaves.values():
            param = leaf.ref()
            if param is not None and param.requires_grad and not unreal(param):
                leaf.version = param._version
                leaf.checksum = value_checksum(param)

    def _judge_hand_orphans(self, updates: int) -> None:
        """Updates by hand go on (``updates`` of them): the graph parameters they never moved,
        though backward() gives them gradients, are reported once."""
        if "hand-orphans" in self._reported_once:
            return
        self._reported_once.add("hand-orphans")
        candidates = []
        for leaf in self._leaves.values():
            param = leaf.ref()
            if param is None or leaf.checksum is None or not param.requires_grad:
                continue
            if param._version != leaf.version or value_checksum(param) != leaf.checksum:
                continue
            candidates.append(leaf)
        owners = owning_modules([m for m, _, _ in self._live_forwards()])
        orphans = []
        for leaf in candidates:
            param = leaf.ref()
            owner = owners.get(id(param))
            if param is not None and (owner is None or owner.training):  # not a frozen teacher
                orphans.append(param)
        if not orphans:
            return
        names = self._param_names(orphans)
        self.emit(
            "params-not-updating",
            key="orphans-by-hand",
            subject=orphans[0],
            message=ORPHANS_BY_HAND.format(count=len(orphans), names=names, updates=updates),
            fix=ORPHANS_BY_HAND_FIX,
            evidence={
                "parameters never updated": names,
                "values never updated": f"{sum(p.numel() for p in orphans):,}",
                "update": "written by hand (no optimizer)",
            },
        )
