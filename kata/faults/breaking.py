"""Fault operators: make a broken training script out of a correct one.

Each operator rewrites the syntax tree of a working script in one realistic way (forget
``zero_grad()``, step the scheduler first, drop ``model.eval()``...) and names the finding code
the diagnostics must report on the result. The edits keep every other line, comment and
blank line as written, so a broken file reads like a learner's own code. Applied to the
solutions and run under ``diagnostics.watch()``, the operators double as a mutation test of
the diagnostics: each must produce exactly its code.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable
from dataclasses import dataclass

from .source import SourceEditor, first_changed_line

__all__ = ["OPERATORS", "BreakError", "Mutation", "Operator", "break_source", "operators_for"]

_OPTIMIZERS = frozenset(
    {
        "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
        "LBFGS", "SparseAdam", "ASGD", "Rprop", "Adafactor",
    }
)  # fmt: skip
_SCHEDULERS_EXTRA = frozenset(
    ["ReduceLROnPlateau", "CosineAnnealingWarmRestarts", "ChainedScheduler", "LRScheduler"]
)
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


class BreakError(Exception):
    """An operator that does not apply, or a fault nobody knows; the message says which."""


@dataclass(frozen=True)
class Operator:
    name: str
    code: str  # the finding code the broken script must produce
    does: str  # what the operator changes, in one line
    looks_for: str  # what it needs to find, for the refusal message
    apply: Callable[[_Script], None]


@dataclass(frozen=True)
class Mutation:
    source: str  # the broken script
    operator: Operator
    line: int  # first changed line of the broken script
    original: str  # the correct script it was made from

    def diff(self, *, name: str = "train.py") -> str:
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True),
                self.source.splitlines(keepends=True),
                f"{name} (correct)",
                f"{name} (broken)",
            )
        )


class _NotFound(Exception):
    """The operator found nothing to rewrite (turned into a BreakError with context)."""


# -- reading the script ---------------------------------------------------------------------------
def _final_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _method_call(node: ast.AST, method: str) -> ast.Call | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
    ):
        return node
    return None


def _receiver(call: ast.Call) -> ast.expr:
    """``x`` of ``x.method(...)`` (calls found by _method_call only)."""
    assert isinstance(call.func, ast.Attribute)
    return call.func.value


def _call_stmt(stmt: ast.stmt, method: str) -> ast.Call | None:
    """``x.method(...)`` written as a statement of its own."""
    return _method_call(stmt.value, method) if isinstance(stmt, ast.Expr) else None


class _Script(SourceEditor):
    """A training script with the few facts the operators need: who is an optimizer, etc."""

    def __init__(self, source: str, *, filename: str) -> None:
        super().__init__(source, filename=filename)
        self.bound: dict[str, str] = {}  # variable text -> constructor name
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                for target in node.targets:
                    if isinstance(target, (ast.Name, ast.Attribute)):
                        self.bound[ast.unparse(target)] = _final_name(node.value.func)

    def role(self, receiver: ast.expr) -> str:
        """'optimizer', 'scheduler' or '' for the object a method is called on."""
        text = ast.unparse(receiver)
        ctor = self.bound.get(text)
        if ctor is not None:
            if ctor in _OPTIMIZERS:
                return "optimizer"
            if ctor.endswith("LR") or ctor in _SCHEDULERS_EXTRA:
                return "scheduler"
            return ""
        lowered = text.lower()
        if "sched" in lowered:
            return "scheduler"
        return "optimizer" if "opt" in lowered else ""

    def is_step(self, node: ast.AST, role: str) -> bool:
        call = _method_call(node, "step")
        if call is None:
            return False
        if self.role(_receiver(call)) == role:
            return True
        # scaler.step(optimizer): a GradScaler steps the optimizer it is given.
        return role == "optimizer" and bool(call.args) and self.role(call.args[0]) == role

    def contains_step(self, stmt: ast.stmt, role: str) -> bool:
        """Does ``stmt`` call ``<role>.step()``, itself or through a function of the script
        (a train_one_epoch() helper, a trainer's method)?"""
        helpers = self.stepping_functions(role)
        return any(
            self.is_step(node, role)
            or (isinstance(node, ast.Call) and _final_name(node.func) in helpers)
            for node in ast.walk(stmt)
        )

    def stepping_functions(self, role: str) -> frozenset[str]:
        """The names of the script's functions that call ``<role>.step()``, directly or
        through another of them."""
        functions = {
            node.name: node
            for node in ast.walk(self.tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        found: set[str] = set()
        for _ in range(3):  # helpers of helpers, a few levels deep
            for name, func in functions.items():
                if name in found:
                    continue
                for node in ast.walk(func):
                    direct = self.is_step(node, role)
                    via = isinstance(node, ast.Call) and _final_name(node.func) in found
                    if direct or via:
                        found.add(name)
                        break
        return frozenset(found)

    def step_statements(self, role: str) -> list[tuple[list[ast.stmt], int]]:
        """(body, index) of every statement that is exactly ``<role>.step(...)``."""
        found = []
        for body in self.bodies():
            for i, stmt in enumerate(body):
                if isinstance(stmt, ast.Expr) and self.is_step(stmt.value, role):
                    found.append((body, i))
        return sorted(found, key=lambda bi: bi[0][bi[1]].lineno)

    def calls_to(self, names: frozenset[str]) -> list[ast.Call]:
        """Calls of a loss: ``F.name(...)`` or a variable bound to ``nn.Name()``."""
        calls = []
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call):
                continue
            direct = isinstance(node.func, ast.Attribute) and node.func.attr in names
            bound = self.bound.get(ast.unparse(node.func)) in names
            if direct or bound:
                calls.append(node)
        return sorted(calls, key=lambda c: (c.lineno, c.col_offset))

    def imports_torch(self) -> bool:
        return any(
            isinstance(node, ast.Import)
            and any(a.name == "torch" and not a.asname for a in node.names)
            for node in self.tree.body
        )


def _wrapped(text: str, node: ast.expr) -> str:
    """``text`` safe to put before ``.method()``."""
    atomic = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)
    return text if isinstance(node, atomic) else f"({text})"


# -- the operators --------------------------------------------------------------------------------
def _delete_calls(script: _Script, method: str, *, accept: Callable[[ast.Call], bool]) -> None:
    for body in list(script.bodies()):
        doomed = [s for s in body if (c := _call_stmt(s, method)) is not None and accept(c)]
        for stmt in doomed:
            keep = len(doomed) == len(body) and stmt is doomed[0]
            script.delete_statement(stmt, keep_block=keep)
    if not script.changed:
        raise _NotFound


def _remove_zero_grad(script: _Script) -> None:
    _delete_calls(script, "zero_grad", accept=lambda call: True)


def _drop_eval(script: _Script) -> None:
    _delete_calls(script, "eval", accept=lambda call: not call.args and not call.keywords)


def _drop_train(script: _Script) -> None:
    def is_mode_switch(call: ast.Call) -> bool:
        if call.keywords:
            return False
        return not call.args or (
            isinstance(call.args[0], ast.Constant) and call.args[0].value is True
        )

    _delete_calls(script, "train", accept=is_mode_switch)


def _backward_index(script: _Script, body: list[ast.stmt]) -> int | None:
    for i, stmt in enumerate(body):
        if _call_stmt(stmt, "backward") is not None:
            return i
    return None


def _zero_grad_after_backward(script: _Script) -> None:
    for body in script.bodies():
        back = _backward_index(script, body)
        zero = next((s for s in body if _call_stmt(s, "zero_grad") is not None), None)
        step = next(
            (s for s in body[(back or 0) + 1 :] if script.contains_step(s, "optimizer")), None
        )
        if back is None or zero is None or step is None:
            continue
        script.move_before(zero, step)
        return
    raise _NotFound


def _scheduler_before_optimizer(script: _Script) -> None:
    for body, i in script.step_statements("scheduler"):
        stmt = body[i]
        call = _call_stmt(stmt, "step")
        if call is None or call.args or call.keywords:
            continue  # ReduceLROnPlateau.step(metric) needs a value computed after training
        before = [s for s in body[:i] if script.contains_step(s, "optimizer")]
        if before:
            script.move_before(stmt, before[-1])
            return
    raise _NotFound


def _scheduler_per_batch(script: _Script) -> None:
    for body, i in script.step_statements("scheduler"):
        loops = [
            s
            for s in body[:i]
            if isinstance(s, (ast.For, ast.While)) and script.contains_step(s, "optimizer")
        ]
        if not loops:
            continue
        inner = [
            (b, j)
            for b, j in script.step_statements("optimizer")
            if loops[-1].lineno <= b[j].lineno <= (loops[-1].end_lineno or 0)
        ]
        if inner:
            b, j = inner[0]
            script.move_after(body[i], b[j])
            return
    raise _NotFound


def _drop_to_device(script: _Script) -> None:
    loops = [n for n in ast.walk(script.tree) if isinstance(n, (ast.For, ast.While))]
    candidates = []
    for loop in loops:
        for node in ast.walk(loop):
            call = _method_call(node, "to")
            if call is not None and (call.args or call.keywords):
                candidates.append(call)
    if not candidates:
        raise _NotFound
    first = min(candidates, key=lambda c: (c.lineno, c.col_offset))
    script.replace(first, script.text(_receiver(first)))


def _softmax_before_loss(script: _Script) -> None:
    calls = [c for c in script.calls_to(_CE_LOSSES) if c.args]
    if not calls:
        raise _NotFound
    for call in calls:
        logits = call.args[0]
        script.replace(logits, f"{_wrapped(script.text(logits), logits)}.softmax(dim=1)")


def _alias_best_state(script: _Script) -> None:
    for node in ast.walk(script.tree):
        inner: ast.expr | None = None
        if (
            isinstance(node, ast.Call)
            and _final_name(node.func) == "deepcopy"
            and len(node.args) == 1
            and _method_call(node.args[0], "state_dict")
        ):
            inner = node.args[0]
        elif (
            isinstance(node, ast.DictComp)
            and len(node.generators) == 1
            and _method_call(node.value, "clone")
        ):
            items = _method_call(node.generators[0].iter, "items")
            if items is not None and _method_call(_receiver(items), "state_dict"):
                inner = _receiver(items)
        if inner is not None and isinstance(node, ast.expr):
            script.replace(node, script.text(inner))
    if not script.changed:
        raise _NotFound


def _step_under_no_grad(script: _Script) -> None:
    if not script.imports_torch():
        raise _NotFound
    for body in script.bodies():
        back = _backward_index(script, body)
        if not back:
            continue
        # Wrap the forward pass and the loss: from after the last zero_grad() to backward().
        cleared = [i for i, s in enumerate(body[:back]) if _call_stmt(s, "zero_grad")]
        start = cleared[-1] + 1 if cleared else 0
        if start < back:
            script.wrap(body[start:back], "with torch.no_grad():")
            return
    raise _NotFound


def _detach_loss(script: _Script) -> None:
    for body in script.bodies():
        back = _backward_index(script, body)
        if back is None:
            continue
        backward = _call_stmt(body[back], "backward")
        assert backward is not None
        loss = _receiver(backward)
        for stmt in reversed(body[:back]):
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and ast.unparse(stmt.targets[0]) == ast.unparse(loss)
            ):
                value = stmt.value
                script.replace(value, f"{_wrapped(script.text(value), value)}.detach()")
                return
    raise _NotFound


def _adam_not_adamw(script: _Script) -> None:
    for node in ast.walk(script.tree):
        if not (isinstance(node, ast.Call) and _final_name(node.func) == "AdamW"):
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
    raise _NotFound


def _drop_eval_no_grad(script: _Script) -> None:
    for node in ast.walk(script.tree):
        if (
            isinstance(node, ast.With)
            and len(node.items) == 1
            and isinstance(node.items[0].context_expr, ast.Call)
            and _final_name(node.items[0].context_expr.func) in _NO_GRAD
            and node.items[0].optional_vars is None
        ):
            script.unwrap(node)
            return
    raise _NotFound


def _flatten_target(script: _Script) -> None:
    calls = [c for c in script.calls_to(_REGRESSION_LOSSES) if len(c.args) >= 2]
    if not calls:
        raise _NotFound
    target = calls[0].args[1]
    script.replace(target, f"{_wrapped(script.text(target), target)}.flatten()")


def _rate_constant(script: _Script, lr: ast.expr | None, depth: int = 0) -> ast.Constant | None:
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


def _scale_lr(script: _Script, *, adaptive: bool, factor: float) -> None:
    for node in ast.walk(script.tree):
        if isinstance(node, ast.Call) and _final_name(node.func) in _OPTIMIZERS:
            if (_final_name(node.func) in _ADAPTIVE) != adaptive:
                continue
            lr = next((k.value for k in node.keywords if k.arg == "lr"), None)
            if lr is None and len(node.args) > 1:
                lr = node.args[1]
            constant = _rate_constant(script, lr)
            if constant is not None and isinstance(constant.value, (int, float)):
                script.replace(constant, repr(float(constant.value) * factor))
                return
    raise _NotFound


def _huge_lr(script: _Script) -> None:
    # SGD-like steps grow with the gradient: the loss overflows to inf, then NaN.
    _scale_lr(script, adaptive=False, factor=1e8)


def _huge_adaptive_lr(script: _Script) -> None:
    # Adam-like steps are about lr in size whatever the gradient: the loss climbs, finite.
    _scale_lr(script, adaptive=True, factor=1e5)


def _clip_statements(script: _Script, body: list[ast.stmt]) -> list[ast.stmt]:
    return [
        s
        for s in body
        if not isinstance(s, (ast.For, ast.While, ast.If, ast.With, ast.FunctionDef))
        and any(isinstance(n, ast.Call) and _final_name(n.func) in _CLIPS for n in ast.walk(s))
    ]


def _clip_after_step(script: _Script) -> None:
    for body in script.bodies():
        clips = _clip_statements(script, body)
        if not clips:
            continue
        index = body.index(clips[0])
        steps = [
            s
            for s in body[index + 1 :]
            if script.contains_step(s, "optimizer")
            or any(_method_call(n, "step") is not None for n in ast.walk(s))
        ]
        if steps:
            script.move_after(clips[0], steps[0])
            return
    raise _NotFound


def _clip_before_unscale(script: _Script) -> None:
    for body in script.bodies():
        clips = _clip_statements(script, body)
        unscales = [s for s in body if _call_stmt(s, "unscale_") is not None]
        if clips and unscales and body.index(unscales[0]) < body.index(clips[0]):
            script.delete_statement(unscales[0], keep_block=len(body) == 1)
            return
    raise _NotFound


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator(
            "remove-zero-grad",
            "grad-accumulation",
            "delete every zero_grad() call, so gradients pile up across batches",
            "a statement calling .zero_grad()",
            _remove_zero_grad,
        ),
        Operator(
            "zero-grad-after-backward",
            "grads-cleared-before-step",
            "move zero_grad() between backward() and optimizer.step()",
            "zero_grad(), backward() and optimizer.step() as statements of one block",
            _zero_grad_after_backward,
        ),
        Operator(
            "scheduler-before-optimizer",
            "scheduler-before-optimizer",
            "move scheduler.step() before the optimizer's step (or the loop holding it)",
            "a scheduler.step() statement after an optimizer.step() in the same block",
            _scheduler_before_optimizer,
        ),
        Operator(
            "scheduler-per-batch",
            "scheduler-per-batch",
            "move an epoch scheduler's step() into the batch loop",
            "a scheduler.step() statement after the batch loop that holds optimizer.step()",
            _scheduler_per_batch,
        ),
        Operator(
            "drop-eval",
            "train-mode-in-eval",
            "delete every model.eval() call, so evaluation runs in training mode",
            "a statement calling .eval()",
            _drop_eval,
        ),
        Operator(
            "drop-train",
            "eval-mode-in-training",
            "delete every model.train() call, so training resumes in eval mode",
            "a statement calling .train() with no argument",
            _drop_train,
        ),
        Operator(
            "drop-to-device",
            "device-mismatch",
            "remove the first .to(device) inside a loop, so a batch stays on the CPU",
            "a .to(...) call inside a loop",
            _drop_to_device,
        ),
        Operator(
            "softmax-before-loss",
            "softmax-before-cross-entropy",
            "apply softmax to the logits before the cross-entropy loss",
            "a call of F.cross_entropy or of an nn.CrossEntropyLoss() variable",
            _softmax_before_loss,
        ),
        Operator(
            "alias-best-state",
            "state-dict-alias",
            "keep the best state_dict() without copy.deepcopy / .clone()",
            "copy.deepcopy(model.state_dict()) or {k: v.clone() for k, v in "
            "model.state_dict().items()}",
            _alias_best_state,
        ),
        Operator(
            "step-under-no-grad",
            "no-grad-training",
            "run the forward pass and the loss under torch.no_grad()",
            "'import torch' and a block with statements before loss.backward()",
            _step_under_no_grad,
        ),
        Operator(
            "detach-loss",
            "no-grad-training",
            "detach the loss from its graph before backward()",
            "an assignment 'loss = ...' followed by 'loss.backward()' in one block",
            _detach_loss,
        ),
        Operator(
            "adam-not-adamw",
            "adam-weight-decay",
            "use Adam with weight_decay instead of AdamW",
            "an AdamW(...) call with a non-zero (or default) weight_decay",
            _adam_not_adamw,
        ),
        Operator(
            "drop-eval-no-grad",
            "eval-without-no-grad",
            "remove the 'with torch.no_grad():' around evaluation",
            "a 'with torch.no_grad():' (or inference_mode) block",
            _drop_eval_no_grad,
        ),
        Operator(
            "flatten-target",
            "loss-broadcast",
            "flatten the regression target so (N, 1) predictions meet an (N,) target",
            "a call of an MSE/L1/Huber loss with a target argument",
            _flatten_target,
        ),
        Operator(
            "huge-lr",
            "non-finite-loss",
            "multiply an SGD-like optimizer's learning rate by 1e8 so the loss overflows",
            "an SGD-like optimizer whose lr is a number, a named constant or a config entry",
            _huge_lr,
        ),
        Operator(
            "huge-adaptive-lr",
            "loss-diverging",
            "multiply an Adam-like optimizer's learning rate by 1e5 so the loss climbs, finite",
            "an Adam-like optimizer whose lr is a number, a named constant or a config entry",
            _huge_adaptive_lr,
        ),
        Operator(
            "clip-after-step",
            "clip-after-step",
            "move gradient clipping after the optimizer's step",
            "a clip_grad_norm_ / clip_grad_value_ statement before a step() in the same block",
            _clip_after_step,
        ),
        Operator(
            "clip-before-unscale",
            "clip-before-unscale",
            "delete scaler.unscale_(optimizer) before gradient clipping",
            "a scaler.unscale_(...) statement before a clipping statement in the same block",
            _clip_before_unscale,
        ),
    )
}


def operators_for(fault: str) -> list[Operator]:
    """The operators ``--fault`` names: one operator, or every operator of a finding code."""
    if fault in OPERATORS:
        return [OPERATORS[fault]]
    matching = [op for op in OPERATORS.values() if op.code == fault]
    if matching:
        return matching
    known = sorted({*OPERATORS, *(op.code for op in OPERATORS.values())})
    close = difflib.get_close_matches(fault, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise BreakError(
        f"Unknown fault {fault!r}.{hint} Run 'kata break --list' to see every operator "
        "and the finding code it produces."
    )


def break_source(source: str, fault: str, *, filename: str = "<source>") -> Mutation:
    """Apply the operator(s) that ``fault`` names; the first that applies wins.

    Raises BreakError naming the operator and what it looked for when none applies, or when
    the source does not parse.
    """
    operators = operators_for(fault)
    refusals = []
    for operator in operators:
        try:
            script = _Script(source, filename=filename)
        except SyntaxError as exc:
            raise BreakError(
                f"{filename}:{exc.lineno}: cannot read the script: {exc.msg}. "
                "Fix the syntax error, then run 'kata break' again."
            ) from None
        try:
            operator.apply(script)
        except _NotFound:
            refusals.append(f"operator {operator.name!r} looked for {operator.looks_for}")
            continue
        broken = script.result()
        _check_parses(broken, operator, filename)
        return Mutation(broken, operator, first_changed_line(source, broken), source)
    if len(refusals) == 1:
        raise BreakError(f"{filename}: {refusals[0]} and found none, so it does not apply.")
    raise BreakError(
        f"{filename}: no operator for {fault!r} applies: "
        + "; ".join(refusals)
        + "; none was found."
    )


def _check_parses(broken: str, operator: Operator, filename: str) -> None:
    try:
        ast.parse(broken)
    except SyntaxError as exc:  # an operator bug, not the user's: say so plainly
        raise BreakError(
            f"{filename}: operator {operator.name!r} produced invalid Python at line "
            f"{exc.lineno} ({exc.msg}); the script's layout is one it cannot edit."
        ) from None
