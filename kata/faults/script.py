"""A training script as the fault operators read it: its syntax tree, which variable is an
optimizer or a scheduler, where the steps are, and line-preserving edits (``source``)."""

from __future__ import annotations

import ast
import re
import sys

from .source import SourceEditor

__all__ = [
    "OPTIMIZERS",
    "NotFound",
    "Script",
    "call_stmt",
    "final_name",
    "method_call",
    "receiver",
    "wrapped",
]

OPTIMIZERS = frozenset(
    {
        "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
        "LBFGS", "SparseAdam", "ASGD", "Rprop", "Adafactor",
    }
)  # fmt: skip
_SCHEDULERS_EXTRA = frozenset(
    ["ReduceLROnPlateau", "CosineAnnealingWarmRestarts", "ChainedScheduler", "LRScheduler"]
)


class NotFound(Exception):
    """The operator found nothing to rewrite (turned into a BreakError with context)."""


# -- reading the script ---------------------------------------------------------------------------
def final_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def method_call(node: ast.AST, method: str) -> ast.Call | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
    ):
        return node
    return None


def receiver(call: ast.Call) -> ast.expr:
    """``x`` of ``x.method(...)`` (calls found by method_call only)."""
    assert isinstance(call.func, ast.Attribute)
    return call.func.value


def call_stmt(stmt: ast.stmt, method: str) -> ast.Call | None:
    """``x.method(...)`` written as a statement of its own."""
    return method_call(stmt.value, method) if isinstance(stmt, ast.Expr) else None


class Script(SourceEditor):
    """A training script with the few facts the operators need: who is an optimizer, etc."""

    def __init__(self, source: str, *, filename: str) -> None:
        super().__init__(source, filename=filename)
        self.bound: dict[str, str] = {}  # variable text -> constructor name
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                for target in node.targets:
                    if isinstance(target, (ast.Name, ast.Attribute)):
                        self.bound[ast.unparse(target)] = final_name(node.value.func)

    def role(self, receiver: ast.expr) -> str:
        """'optimizer', 'scheduler' or '' for the object a method is called on."""
        text = ast.unparse(receiver)
        ctor = self.bound.get(text)
        if ctor is not None:
            if ctor in OPTIMIZERS:
                return "optimizer"
            if ctor.endswith("LR") or ctor in _SCHEDULERS_EXTRA:
                return "scheduler"
            return ""
        lowered = text.lower()
        if "sched" in lowered:
            return "scheduler"
        return "optimizer" if "opt" in lowered else ""

    def is_step(self, node: ast.AST, role: str) -> bool:
        call = method_call(node, "step")
        if call is None:
            return False
        if self.role(receiver(call)) == role:
            return True
        # scaler.step(optimizer): a GradScaler steps the optimizer it is given.
        return role == "optimizer" and bool(call.args) and self.role(call.args[0]) == role

    def contains_step(self, stmt: ast.stmt, role: str) -> bool:
        """Does ``stmt`` call ``<role>.step()``, itself or through a function of the script
        (a train_one_epoch() helper, a trainer's method)?"""
        helpers = self.stepping_functions(role)
        return any(
            self.is_step(node, role)
            or (isinstance(node, ast.Call) and final_name(node.func) in helpers)
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
                    via = isinstance(node, ast.Call) and final_name(node.func) in found
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

    def may_have_mode_layers(self) -> bool:
        """Could the script's model hold a layer that behaves differently in training and eval
        mode (dropout, BatchNorm, a layer of its own reading ``self.training``)? False only
        when none is named and every import is known to define none: deleting a
        ``model.eval()`` or ``model.train()`` would then change nothing."""
        if _MODE_MARKERS.search(self.source):
            return True
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                tops = [(node.module or "").split(".")[0]] if not node.level else ["."]
            else:
                continue
            if any(top not in _PLAIN_MODULES for top in tops):
                return True  # a model from elsewhere may hold them
        return False

    def imports_torch(self) -> bool:
        return any(
            isinstance(node, ast.Import)
            and any(a.name == "torch" and not a.asname for a in node.names)
            for node in self.tree.body
        )


# Names of mode-dependent layers, of the script's own (``self.training``), and of ready-made
# models that hold them.
_MODE_MARKERS = re.compile(
    r"Dropout|BatchNorm|InstanceNorm|\bdropout|\bbatch_norm|\.training\b|Transformer|SmallCNN|"
    r"torchvision|timm|transformers|resnet|vgg|densenet|mobilenet|efficientnet",
    re.IGNORECASE,
)
# Imports that define no model with such a layer unless the script names one.
_PLAIN_MODULES = frozenset(sys.stdlib_module_names) | {
    "torch", "numpy", "kata_fixtures", "fixtures", "matplotlib", "tqdm", "pandas",
}  # fmt: skip


def wrapped(text: str, node: ast.expr) -> str:
    """``text`` safe to put before ``.method()``."""
    atomic = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)
    return text if isinstance(node, atomic) else f"({text})"
