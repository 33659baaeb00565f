"""The fault operators, each registered next to its code by ``@operator``: the finding code
the broken script must produce, what the operator changes, and what it needs to find.

The order of registration is the order ``kata break --list`` shows and the order in which the
operators of one finding code are tried.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from .script import (
    OPTIMIZERS,
    NotFound,
    Script,
    call_stmt,
    final_name,
    method_call,
    receiver,
    wrapped,
)

__all__ = ["OPERATORS", "Operator", "operator"]

_CE_LOSSES = frozenset({"CrossEntropyLoss", "cross_entropy"})
_REGRESSION_LOSSES = frozenset(
    {
        "MSELoss",
        "L1Loss",
        "SmoothL1Loss",
        "HuberLoss",
        "mse_loss",
        "l1_loss",
        "smooth_l1_loss",
        "huber_loss",
    }
)
_NO_GRAD = frozenset({"no_grad", "inference_mode"})
_ADAPTIVE = frozenset({"Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad"})
_CLIPS = frozenset({"clip_grad_norm_", "clip_grad_value_"})


@dataclass(frozen=True)
class Operator:
    name: str
    code: str  # the finding code the broken script must produce
    does: str  # what the operator changes, in one line
    looks_for: str  # what it needs to find, for the refusal message
    apply: Callable[[Script], None]


Apply = Callable[[Script], None]
# Every operator, by name, in the order of registration.
OPERATORS: dict[str, Operator] = {}


def operator(name: str, code: str, *, does: str, looks_for: str) -> Callable[[Apply], Apply]:
    """Register the decorated function as the operator ``name``, whose broken script must
    produce the finding ``code``; ``does`` and ``looks_for`` are its one-line descriptions."""

    def register(apply: Apply) -> Apply:
        if name in OPERATORS:
            raise ValueError(f"The fault operator {name!r} is registered twice.")
        OPERATORS[name] = Operator(name, code, does, looks_for, apply)
        return apply

    return register


# -- the operators --------------------------------------------------------------------------------
def _delete_calls(script: Script, method: str, *, accept: Callable[[ast.Call], bool]) -> None:
    for body in list(script.bodies()):
        doomed = [s for s in body if (c := call_stmt(s, method)) is not None and accept(c)]
        for stmt in doomed:
            keep = len(doomed) == len(body) and stmt is doomed[0]
            script.delete_statement(stmt, keep_block=keep)
    if not script.changed:
        raise NotFound


@operator(
    "remove-zero-grad",
    "grad-accumulation",
    does="delete every zero_grad() call, so gradients pile up across batches",
    looks_for="a statement calling .zero_grad()",
)
def _remove_zero_grad(script: Script) -> None:
    _delete_calls(script, "zero_grad", accept=lambda call: True)


def _backward_index(script: Script, body: list[ast.stmt]) -> int | None:
    for i, stmt in enumerate(body):
        if call_stmt(stmt, "backward") is not None:
            return i
    return None


@operator(
    "zero-grad-after-backward",
    "grads-cleared-before-step",
    does="move zero_grad() between backward() and optimizer.step()",
    looks_for="zero_grad(), backward() and optimizer.step() as statements of one block",
)
def _zero_grad_after_backward(script: Script) -> None:
    for body in script.bodies():
        back = _backward_index(script, body)
        zero = next((s for s in body if call_stmt(s, "zero_grad") is not None), None)
        step = next(
            (s for s in body[(back or 0) + 1 :] if script.contains_step(s, "optimizer")), None
        )
        if back is None or zero is None or step is None:
            continue
        script.move_before(zero, step)
        return
    raise NotFound


@operator(
    "scheduler-before-optimizer",
    "scheduler-before-optimizer",
    does="move scheduler.step() before the optimizer's step (or the loop holding it)",
    looks_for="a scheduler.step() statement after an optimizer.step() in the same block",
)
def _scheduler_before_optimizer(script: Script) -> None:
    for body, i in script.step_statements("scheduler"):
        stmt = body[i]
        call = call_stmt(stmt, "step")
        if call is None or call.args or call.keywords:
            continue  # ReduceLROnPlateau.step(metric) needs a value computed after training
        before = [s for s in body[:i] if script.contains_step(s, "optimizer")]
        if before:
            script.move_before(stmt, before[-1])
            return
    raise NotFound


@operator(
    "scheduler-per-batch",
    "scheduler-per-batch",
    does="move an epoch scheduler's step() into the batch loop (into a train_one_epoch() "
    "helper's, passing it the scheduler)",
    looks_for="a scheduler.step() statement after the batch loop that holds optimizer.step()",
)
def _scheduler_per_batch(script: Script) -> None:
    for body, i in script.step_statements("scheduler"):
        call = call_stmt(body[i], "step")
        if call is None or call.args or call.keywords:
            continue  # ReduceLROnPlateau.step(metric): its metric is an epoch's
        before = body[:i]
        loops = [
            s
            for s in before
            if isinstance(s, (ast.For, ast.While)) and script.contains_step(s, "optimizer")
        ]
        inner = (
            [
                (b, j)
                for b, j in script.step_statements("optimizer")
                if loops[-1].lineno <= b[j].lineno <= (loops[-1].end_lineno or 0)
            ]
            if loops
            else []
        )
        if inner:
            b, j = inner[0]
            script.move_after(body[i], b[j])
            return
        if _scheduler_into_helper(script, body[i], call, before):
            return
    raise NotFound


def _scheduler_into_helper(
    script: Script, stmt: ast.stmt, call: ast.Call, before: list[ast.stmt]
) -> bool:
    """``train_one_epoch(model, loader, optimizer)`` then ``scheduler.step()``: the step goes
    into the helper's batch loop, after its optimizer step, and the helper is given the
    scheduler as one more argument. Only a plain helper call and signature are edited."""
    name = receiver(call)
    if not isinstance(name, ast.Name):
        return False
    helpers = script.stepping_functions("optimizer")
    functions = {
        n.name: n
        for n in ast.walk(script.tree)
        if isinstance(n, ast.FunctionDef) and n.name in helpers
    }
    for stmt_before in reversed(before):
        for node in ast.walk(stmt_before):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            func = functions.get(node.func.id)
            if func is None or node.keywords or not node.args:
                continue
            if any(isinstance(a, ast.Starred) for a in node.args):
                continue
            params = func.args
            if params.vararg or params.kwarg or params.kwonlyargs or params.defaults:
                continue
            if len(params.args) != len(node.args) or name.id in {a.arg for a in params.args}:
                continue
            steps = [
                (b, j)
                for b, j in script.step_statements("optimizer")
                if func.lineno <= b[j].lineno <= (func.end_lineno or 0)
                and any(
                    isinstance(loop, (ast.For, ast.While))
                    and loop.lineno <= b[j].lineno <= (loop.end_lineno or 0)
                    for loop in ast.walk(func)
                )
            ]
            if not steps:
                continue
            b, j = steps[0]
            script.move_after(stmt, b[j])
            _, end = script.span(params.args[-1])
            script.replace_range(end, end, f", {name.id}")
            _, end = script.span(node.args[-1])
            script.replace_range(end, end, f", {name.id}")
            return True
    return False


@operator(
    "drop-eval",
    "train-mode-in-eval",
    does="delete every model.eval() call, so evaluation runs in training mode",
    looks_for="a statement calling .eval(), in a script whose model has dropout or BatchNorm",
)
def _drop_eval(script: Script) -> None:
    if not script.may_have_mode_layers():
        raise NotFound
    _delete_calls(script, "eval", accept=lambda call: not call.args and not call.keywords)


@operator(
    "drop-train",
    "eval-mode-in-training",
    does="delete every model.train() call, so training resumes in eval mode",
    looks_for="a statement calling .train() with no argument, in a script whose model has "
    "dropout or BatchNorm",
)
def _drop_train(script: Script) -> None:
    if not script.may_have_mode_layers():
        raise NotFound

    def is_mode_switch(call: ast.Call) -> bool:
        if call.keywords:
            return False
        return not call.args or (
            isinstance(call.args[0], ast.Constant) and call.args[0].value is True
        )

    _delete_calls(script, "train", accept=is_mode_switch)


@operator(
    "drop-to-device",
    "device-mismatch",
    does="remove the first .to(device) inside a loop, so a batch stays on the CPU",
    looks_for="a .to(...) call inside a loop",
)
def _drop_to_device(script: Script) -> None:
    loops = [n for n in ast.walk(script.tree) if isinstance(n, (ast.For, ast.While))]
    candidates = []
    for loop in loops:
        for node in ast.walk(loop):
            call = method_call(node, "to")
            if call is not None and (call.args or call.keywords):
                candidates.append(call)
    if not candidates:
        raise NotFound
    first = min(candidates, key=lambda c: (c.lineno, c.col_offset))
    script.replace(first, script.text(receiver(first)))


@operator(
    "softmax-before-loss",
    "softmax-before-cross-entropy",
    does="apply softmax to the logits before the cross-entropy loss",
    looks_for="a call of F.cross_entropy or of an nn.CrossEntropyLoss() variable",
)
def _softmax_before_loss(script: Script) -> None:
    calls = [c for c in script.calls_to(_CE_LOSSES) if c.args]
    if not calls:
        raise NotFound
    for call in calls:
        logits = call.args[0]
        script.replace(logits, f"{wrapped(script.text(logits), logits)}.softmax(dim=1)")


@operator(
    "alias-best-state",
    "state-dict-alias",
    does="keep the best state_dict() without copy.deepcopy / .clone()",
    looks_for="copy.deepcopy(model.state_dict()) or {k: v.clone() for k, v in "
    "model.state_dict().items()}",
)
def _alias_best_state(script: Script) -> None:
    for node in ast.walk(script.tree):
        inner: ast.expr | None = None
        if (
            isinstance(node, ast.Call)
            and final_name(node.func) == "deepcopy"
            and len(node.args) == 1
            and method_call(node.args[0], "state_dict")
        ):
            inner = node.args[0]
        elif (
            isinstance(node, ast.DictComp)
            and len(node.generators) == 1
            and method_call(node.value, "clone")
        ):
            items = method_call(node.generators[0].iter, "items")
            if items is not None and method_call(receiver(items), "state_dict"):
                inner = receiver(items)
        if inner is not None and isinstance(node, ast.expr):
            script.replace(node, script.text(inner))
    if not script.changed:
        raise NotFound


@operator(
    "step-under-no-grad",
    "no-grad-training",
    does="run the forward pass and the loss under torch.no_grad()",
    looks_for="'import torch' and a block with statements before loss.backward()",
)
def _step_under_no_grad(script: Script) -> None:
    if not script.imports_torch():
        raise NotFound
    for body in script.bodies():
        back = _backward_index(script, body)
        if not back:
            continue
        # Wrap the forward pass and the loss: from after the last zero_grad() to backward().
        cleared = [i for i, s in enumerate(body[:back]) if call_stmt(s, "zero_grad")]
        start = cleared[-1] + 1 if cleared else 0
        if start < back:
            script.wrap(body[start:back], "with torch.no_grad():")
            return
    raise NotFound


@operator(
    "detach-loss",
    "no-grad-training",
    does="detach the loss from its graph before backward()",
    looks_for="an assignment 'loss = ...' followed by 'loss.backward()' in one block",
)
def _detach_loss(script: Script) -> None:
    for body in script.bodies():
        back = _backward_index(script, body)
        if back is None:
            continue
        backward = call_stmt(body[back], "backward")
        assert backward is not None
        loss = receiver(backward)
        for stmt in reversed(body[:back]):
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and ast.unparse(stmt.targets[0]) == ast.unparse(loss)
            ):
                value = stmt.value
                script.replace(value, f"{wrapped(script.text(value), value)}.detach()")
                return
    raise NotFound


@operator(
    "adam-not-adamw",
    "adam-weight-decay",
    does="use Adam with weight_decay instead of AdamW",
    looks_for="an AdamW(...) call with a non-zero (or default) weight_decay",
)
def _adam_not_adamw(script: Script) -> None:
    for node in ast.walk(script.tree):
        if not (isinstance(node, ast.Call) and final_name(node.func) == "AdamW"):
            continue
        decay = next((k.value for k in node.keywords if k.arg == "weight_decay"), None)
        if isinstance(decay, ast.Constant) and not decay.value:
            continue  # Adam without decay is a correct optimizer, not this fault
        end = script.span(node.func)[1]
        script.replace_range(end - len("AdamW"), end, "Adam")
        if decay is None:
            # AdamW's default decay is 0.01; keep asking for it, now coupled into the gradient.
            last = node.keywords[-1] if node.keywords else node.args[-1]
            at = script.span(last)[1]
            script.replace_range(at, at, ", weight_decay=0.01")
        return
    raise NotFound


@operator(
    "drop-eval-no-grad",
    "eval-without-no-grad",
    does="remove the 'with torch.no_grad():' around evaluation",
    looks_for="a 'with torch.no_grad():' (or inference_mode) block",
)
def _drop_eval_no_grad(script: Script) -> None:
    for node in ast.walk(script.tree):
        if (
            isinstance(node, ast.With)
            and len(node.items) == 1
            and isinstance(node.items[0].context_expr, ast.Call)
            and final_name(node.items[0].context_expr.func) in _NO_GRAD
            and node.items[0].optional_vars is None
        ):
            script.unwrap(node)
            return
    raise NotFound


@operator(
    "flatten-target",
    "loss-broadcast",
    does="flatten the regression target so (N, 1) predictions meet an (N,) target",
    looks_for="a call of an MSE/L1/Huber loss with a target argument",
)
def _flatten_target(script: Script) -> None:
    calls = [c for c in script.calls_to(_REGRESSION_LOSSES) if len(c.args) >= 2]
    if not calls:
        raise NotFound
    target = calls[0].args[1]
    script.replace(target, f"{wrapped(script.text(target), target)}.flatten()")


def _rate_constant(script: Script, lr: ast.expr | None, depth: int = 0) -> ast.Constant | None:
    """The number a learning-rate argument comes from: ``lr=0.01``, ``lr=LR`` with
    ``LR = 0.01``, or ``lr=config["lr"]`` with ``config = {"lr": 0.01}`` (or ``LR`` there)."""
    if lr is None or depth > 3:
        return None
    if isinstance(lr, ast.Constant):
        number = isinstance(lr.value, (int, float)) and not isinstance(lr.value, bool)
        return lr if number else None
    if isinstance(lr, ast.Name):
        for node in ast.walk(script.tree):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == lr.id for t in node.targets
            ):
                return _rate_constant(script, node.value, depth + 1)
        return None
    if (
        isinstance(lr, ast.Subscript)
        and isinstance(lr.value, ast.Name)
        and isinstance(lr.slice, ast.Constant)
    ):
        for node in ast.walk(script.tree):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Dict)
                and any(isinstance(t, ast.Name) and t.id == lr.value.id for t in node.targets)
            ):
                for key, value in zip(node.value.keys, node.value.values, strict=False):
                    if isinstance(key, ast.Constant) and key.value == lr.slice.value:
                        return _rate_constant(script, value, depth + 1)
    return None


def _scale_lr(script: Script, *, adaptive: bool, factor: float) -> None:
    for node in ast.walk(script.tree):
        if isinstance(node, ast.Call) and final_name(node.func) in OPTIMIZERS:
            if (final_name(node.func) in _ADAPTIVE) != adaptive:
                continue
            lr = next((k.value for k in node.keywords if k.arg == "lr"), None)
            if lr is None and len(node.args) > 1:
                lr = node.args[1]
            constant = _rate_constant(script, lr)
            if constant is not None and isinstance(constant.value, (int, float)):
                script.replace(constant, repr(float(constant.value) * factor))
                return
    raise NotFound


@operator(
    "huge-lr",
    "non-finite-loss",
    does="multiply an SGD-like optimizer's learning rate by 1e8 so the loss overflows",
    looks_for="an SGD-like optimizer whose lr is a number, a named constant or a config entry",
)
def _huge_lr(script: Script) -> None:
    # SGD-like steps grow with the gradient: the loss overflows to inf, then NaN.
    _scale_lr(script, adaptive=False, factor=1e8)


@operator(
    "huge-adaptive-lr",
    "loss-diverging",
    does="multiply an Adam-like optimizer's learning rate by 1e5 so the loss climbs, finite",
    looks_for="an Adam-like optimizer whose lr is a number, a named constant or a config entry",
)
def _huge_adaptive_lr(script: Script) -> None:
    # Adam-like steps are about lr in size whatever the gradient: the loss climbs, finite.
    _scale_lr(script, adaptive=True, factor=1e5)


def _clip_statements(script: Script, body: list[ast.stmt]) -> list[ast.stmt]:
    return [
        s
        for s in body
        if not isinstance(s, (ast.For, ast.While, ast.If, ast.With, ast.FunctionDef))
        and any(isinstance(n, ast.Call) and final_name(n.func) in _CLIPS for n in ast.walk(s))
    ]


@operator(
    "clip-after-step",
    "clip-after-step",
    does="move gradient clipping after the optimizer's step",
    looks_for="a clip_grad_norm_ / clip_grad_value_ statement before a step() in the same block",
)
def _clip_after_step(script: Script) -> None:
    for body in script.bodies():
        clips = _clip_statements(script, body)
        if not clips:
            continue
        index = body.index(clips[0])
        steps = [
            s
            for s in body[index + 1 :]
            if script.contains_step(s, "optimizer")
            or any(method_call(n, "step") is not None for n in ast.walk(s))
        ]
        if steps:
            script.move_after(clips[0], steps[0])
            return
    raise NotFound


@operator(
    "clip-before-unscale",
    "clip-before-unscale",
    does="delete scaler.unscale_(optimizer) before gradient clipping",
    looks_for="a scaler.unscale_(...) statement before a clipping statement in the same block",
)
def _clip_before_unscale(script: Script) -> None:
    for body in script.bodies():
        clips = _clip_statements(script, body)
        unscales = [s for s in body if call_stmt(s, "unscale_") is not None]
        if clips and unscales and body.index(unscales[0]) < body.index(clips[0]):
            script.delete_statement(unscales[0], keep_block=len(body) == 1)
            return
    raise NotFound
