"""no-grad-training: backward() on a loss with no autograd graph, and why it has none."""

from __future__ import annotations

import torch
from torch import nn

from .common import outermost, shape_text
from .state import GradientState

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

CAUSES = {
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


class NoGradTraining(GradientState):
    """Explains a backward() on a tensor with no graph (torch raises; a leaf loss does not)."""

    def _no_graph(self, t: torch.Tensor) -> None:
        self._no_graph_seen = True
        if t.requires_grad:
            if isinstance(t, nn.Parameter):
                return  # backward() on a parameter itself: odd, but it has no loss to explain
            cause, model = self._no_graph_cause(t)
            text, fix = CAUSES[cause]
            self.emit(
                "no-grad-training",
                message=LEAF_LOSS.format(cause=text.format(model=model)),
                fix=LEAF_LOSS_FIX.format(fix=fix),
                evidence={
                    "loss": f"{shape_text(t)} leaf tensor, requires_grad=True, grad_fn=None",
                    "grad mode at backward()": "on" if torch.is_grad_enabled() else "off",
                },
            )
            return
        cause, model = self._no_graph_cause(t)
        text, fix = CAUSES[cause]
        self.emit(
            "no-grad-training",
            message=NO_GRAPH.format(cause=text.format(model=model)),
            fix=fix,
            evidence={
                "loss": f"{shape_text(t)} tensor, requires_grad=False, grad_fn=None",
                "grad mode at backward()": "on" if torch.is_grad_enabled() else "off",
                "inference mode": "on" if torch.is_inference_mode_enabled() else "off",
            },
        )

    def _no_graph_cause(self, t: torch.Tensor) -> tuple[str, str]:
        if t.is_inference() or torch.is_inference_mode_enabled():
            return "inference", ""
        if not torch.is_grad_enabled():
            return "grad_off", ""
        # The modules that ran last, with parameters: did their outputs record a graph? Each
        # module's latest call decides; a forward under no_grad is noted as its whole model,
        # whose own parameters are all of the model's, and it is the latest call of each of
        # its layers. Those since the previous backward() made this loss: when every one of
        # them is frozen, that is the cause, whatever trained before (a GAN's discriminator
        # frozen for the generator's step and never unfrozen for its own).
        recent: list[tuple[nn.Module, bool, bool]] = []
        callers: list[nn.Module] = []
        fresh_recent: list[tuple[nn.Module, bool, bool]] = []
        fresh_callers: list[nn.Module] = []
        fresh = True
        seen: set[int] = set()
        for record in reversed(self._forwards):
            if record is self._last_before_backward:
                fresh = False
            module_ref, _, _, recorded, whole = record
            module = module_ref()
            if module is None or id(module) in seen:
                continue
            if whole:
                seen.update(id(m) for m in module.modules())
            else:
                seen.add(id(module))
            callers.append(module)
            if fresh:
                fresh_callers.append(module)
            if module._parameters or (whole and next(module.parameters(), None) is not None):
                recent.append((module, recorded, whole))
                if fresh:
                    fresh_recent.append((module, recorded, whole))
                if len(recent) >= 64:
                    break
        if not recent:
            return "unknown", ""
        for window, models in ((fresh_recent, fresh_callers), (recent, callers)):
            if window and not any(
                p.requires_grad for m, _, whole in window for p in m.parameters(recurse=whole)
            ):
                return "frozen", type(outermost(models)).__name__
        trainable = [rec for m, rec, _ in recent if any(p.requires_grad for p in m.parameters())]
        return ("detached" if any(trainable) else "no_grad_forward"), ""
