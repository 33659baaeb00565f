"""Read a crash's traceback: the user's line, the module being called, the tensors at hand.

The devices and shapes checks explain an exception from the frames themselves (the real
shapes and devices of the tensors that met) rather than from the error text alone, whose
wording changes between torch versions and devices. Nothing here calls user code: names
are resolved through frame locals, instance dictionaries and module registries only.
"""

from __future__ import annotations

import ast
import dis
import inspect
import linecache
import os
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .._findings import Location
from .._location import frame_location, hides_itself, is_user_frame

_MODULE_FILE = os.path.join("torch", "nn", "modules", "module.py")
_FUNCTIONAL_FILE = os.path.join("torch", "nn", "functional.py")
_CALL_FRAMES = frozenset({"_call_impl", "_wrapped_call_impl"})
_RAISE_OPS = frozenset({dis.opmap["RAISE_VARARGS"], dis.opmap.get("RERAISE", -1)})
_CONTAINERS = (list, tuple, dict, nn.ModuleList, nn.ModuleDict, nn.Sequential)
_MISSING = object()


@dataclass(frozen=True)
class TensorRef:
    """One tensor of the crash, named the way the user would find it."""

    name: str
    shape: tuple[int, ...]
    device: str
    tensor: torch.Tensor = field(compare=False, repr=False)

    @property
    def shape_text(self) -> str:
        return shape_text(self.shape)

    def describe(self, *, device: bool = True) -> str:
        where = f" on {self.device}" if device else ""
        return f"{self.name} {self.shape_text}{where}"


@dataclass
class ModuleCall:
    """A module that was being called when the error happened."""

    module: nn.Module
    label: str  # "features.0 (Conv2d)"
    path: str | None  # dotted path in the outermost module; None when not registered in it
    inputs: tuple[TensorRef, ...]
    root: nn.Module

    @property
    def registered(self) -> bool:
        return self.path is not None

    def own_tensors(self) -> tuple[TensorRef, ...]:
        """The module's own parameters and buffers (not its children's)."""
        named: list[tuple[str, torch.Tensor]] = [
            *self.module.named_parameters(recurse=False),
            *self.module.named_buffers(recurse=False),
        ]
        return tuple(
            _ref(f"{name} of {self.label}", t) for name, t in named if isinstance(t, torch.Tensor)
        )

    def layers_before(self) -> list[nn.Module]:
        """The siblings that run before this module in its parent container, nearest first."""
        if not self.path:
            return []
        parent_path, _, name = self.path.rpartition(".")
        try:
            parent = self.root.get_submodule(parent_path)
        except AttributeError:
            return []
        names = list(parent._modules)
        if name not in names or not isinstance(parent, nn.Sequential):
            return []
        before = [parent._modules[n] for n in names[: names.index(name)]]
        return [m for m in reversed(before) if m is not None]


@dataclass
class OpCall:
    """The torch.nn.functional call that failed (F.cross_entropy, F.batch_norm, ...)."""

    name: str
    tensors: dict[str, TensorRef]


@dataclass
class Crash:
    """What the traceback of one exception shows."""

    message: str
    location: Location | None
    modules: list[ModuleCall]  # outermost first
    operands: tuple[TensorRef, ...]  # direct operands of the failing expression
    frame_tensors: tuple[TensorRef, ...]  # the other tensors in the user's frame
    expression: str  # source text of the failing expression in the user's frame
    callee: str  # what that expression calls: "model", "F.conv2d", "loss.numpy"
    receiver: str  # for a method call, the object it is called on: "loss.detach()"
    op: OpCall | None
    forward_of: nn.Module | None  # the module whose forward() is the user's frame
    forward_args: tuple[str, ...]
    user_raised: bool  # raised by a raise statement in the user's code
    inside_module: bool  # the error happened inside a module called from the user's line
    frame_self: Any = None  # ``self`` of the user's frame, when it is a method
    user_names: dict[int, str] = field(default_factory=dict)  # id(tensor) -> the user's name
    caller_names: dict[int, str] = field(default_factory=dict)  # the same, in calling frames
    caller_sites: dict[int, Location] = field(default_factory=dict)  # where callers named them

    @property
    def module(self) -> ModuleCall | None:
        """The innermost module being called."""
        return self.modules[-1] if self.modules else None

    def evidence_tensors(self) -> list[TensorRef]:
        """Every tensor that took part, those that met first, without repeats.

        When the error happened inside a module, its inputs and weights met and the user's
        line only started the call; otherwise the user's line is where they met.
        """
        seen: set[int] = set()
        out: list[TensorRef] = []
        groups: list[tuple[TensorRef, ...]] = []
        if self.op is not None:
            groups.append(tuple(self.op.tensors.values()))
        if self.module is not None:
            groups += [self.module.inputs, self.module.own_tensors()]
        groups.insert(len(groups) if self.inside_module else 0, self.operands)
        roles = self.roles()
        for group in groups:
            for ref in group:
                if id(ref.tensor) not in seen:
                    seen.add(id(ref.tensor))
                    out.append(self._named(ref, roles))
        return out

    def roles(self) -> dict[int, str]:
        """What each tensor is to the failing op or module ("input of fc (Linear)")."""
        roles: dict[int, str] = {}
        if self.op is not None:
            for ref in self.op.tensors.values():
                roles[id(ref.tensor)] = ref.name
        if self.module is not None:  # the module's words for them read better than F's
            for ref in (*self.module.own_tensors(), *self.module.inputs):
                roles[id(ref.tensor)] = ref.name
        return roles

    def user_name(self, tensor: torch.Tensor) -> str | None:
        """The user's own name for ``tensor`` in the failing line or its frames, if any."""
        return self.user_names.get(id(tensor))

    def named(self, ref: TensorRef) -> TensorRef:
        """``ref`` named as "user name (role)", e.g. "x (input of features.0 (Conv2d))"."""
        return self._named(ref, self.roles())

    def _named(self, ref: TensorRef, roles: dict[int, str]) -> TensorRef:
        user = self.user_name(ref.tensor)
        role = roles.get(id(ref.tensor))
        if user and role:
            name = user if user == role else f"{user} ({role})"
        else:
            name = user or role or ref.name
        return TensorRef(name, ref.shape, ref.device, ref.tensor)


def shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(s) for s in shape) + ")"


def exception_chain(exc: BaseException, limit: int = 5) -> Iterator[BaseException]:
    """The exception, then the ones it was raised from or while handling."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < limit:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )


def analyse(exc: BaseException) -> Crash:
    """Read ``exc``'s traceback into a :class:`Crash`."""
    tbs = _traceback_entries(exc.__traceback__)
    user_tbs = [tb for tb in tbs if _is_user(tb)]
    user_tb = user_tbs[-1] if user_tbs else None
    frame = user_tb.tb_frame if user_tb is not None else None
    node = _failing_node(user_tb) if user_tb is not None else None
    operands = _operand_refs(node, frame) if node is not None and frame is not None else ()
    frame_tensors = _frame_tensors(frame, operands)
    forward_of, forward_args, frame_self = _forward_info(frame)
    user_idx = tbs.index(user_tb) if user_tb is not None else -1
    start = max(user_idx, _last_call_index(tbs))
    outer, sites = _callers_operands(user_tbs[:-1])
    return Crash(
        message=str(exc),
        location=frame_location(frame, user_tb.tb_lineno) if user_tb and frame else None,
        modules=_module_calls(tbs),
        operands=operands,
        frame_tensors=frame_tensors,
        expression=ast.unparse(node) if node is not None else "",
        callee=_callee(node),
        receiver=_receiver(node),
        op=_functional_op(tbs[start + 1 :]),
        forward_of=forward_of,
        forward_args=forward_args,
        user_raised=bool(tbs) and _is_user(tbs[-1]) and _raised_here(tbs[-1]),
        inside_module=_last_call_index(tbs) > user_idx,
        frame_self=frame_self,
        user_names=_names([*operands, *frame_tensors, *_self_tensors(frame_self), *outer]),
        caller_names=_names(outer),
        caller_sites=sites,
    )


def _callers_operands(
    outer: list[types.TracebackType],
) -> tuple[list[TensorRef], dict[int, Location]]:
    """The operands of the calling user frames' lines, innermost first, and those lines."""
    refs: list[TensorRef] = []
    sites: dict[int, Location] = {}
    for tb in reversed(outer):
        node = _failing_node(tb)
        if node is None:
            continue
        for ref in _operand_refs(node, tb.tb_frame):
            refs.append(ref)
            sites.setdefault(id(ref.tensor), frame_location(tb.tb_frame, tb.tb_lineno))
    return refs, sites


def _self_tensors(owner: Any) -> list[TensorRef]:
    """A module method's own parameters and buffers, as the method calls them: self.w."""
    if not isinstance(owner, nn.Module):
        return []
    named: list[tuple[str, torch.Tensor]] = [
        *owner.named_parameters(recurse=False),
        *owner.named_buffers(recurse=False),
    ]
    return [_ref(f"self.{name}", t) for name, t in named]


def _names(refs: list[TensorRef]) -> dict[int, str]:
    names: dict[int, str] = {}
    for ref in refs:
        names.setdefault(id(ref.tensor), ref.name)
    return names


# -- traceback walking ---------------------------------------------------------------------------
def _traceback_entries(tb: types.TracebackType | None) -> list[types.TracebackType]:
    out = []
    while tb is not None:
        out.append(tb)
        tb = tb.tb_next
    return out


def _is_user(tb: types.TracebackType) -> bool:
    return is_user_frame(tb.tb_frame)


def _is_call_frame(tb: types.TracebackType) -> bool:
    code = tb.tb_frame.f_code
    return code.co_name in _CALL_FRAMES and code.co_filename.endswith(_MODULE_FILE)


def _last_call_index(tbs: list[types.TracebackType]) -> int:
    return max((i for i, tb in enumerate(tbs) if _is_call_frame(tb)), default=-1)


def _raised_here(tb: types.TracebackType) -> bool:
    code = tb.tb_frame.f_code.co_code
    return 0 <= tb.tb_lasti < len(code) and code[tb.tb_lasti] in _RAISE_OPS


def _module_calls(tbs: list[types.TracebackType]) -> list[ModuleCall]:
    """The modules being called, outermost first, labelled by their path in the outermost."""
    calls: list[tuple[nn.Module, tuple[Any, ...], dict[str, Any], str | None]] = []
    for i, tb in enumerate(tbs):
        if not _is_call_frame(tb):
            continue
        local = tb.tb_frame.f_locals
        module = local.get("self")
        if not isinstance(module, nn.Module):
            continue
        if calls and calls[-1][0] is module:  # _wrapped_call_impl then _call_impl
            calls[-1] = (module, local.get("args", ()), local.get("kwargs") or {}, calls[-1][3])
            continue
        j = i - 1
        while j >= 0 and hides_itself(tbs[j].tb_frame):
            j -= 1  # the engine's Module.__call__ wrapper sits between the caller and the call
        caller = _caller_name(tbs[j], module) if j >= 0 else None
        calls.append((module, local.get("args", ()), local.get("kwargs") or {}, caller))
    if not calls:
        return []
    root = calls[0][0]
    paths: dict[int, str] = {}
    for name, m in root.named_modules(remove_duplicate=False):
        paths.setdefault(id(m), name)  # a shared module: its first path
    out = []
    for module, args, kwargs, caller in calls:
        path = paths.get(id(module))
        label = _module_label(module, path, caller)
        out.append(ModuleCall(module, label, path, _input_refs(module, label, args, kwargs), root))
    return out


def _module_label(module: nn.Module, path: str | None, caller: str | None) -> str:
    kind = type(module).__name__
    if path:
        return f"{path} ({kind})"
    return f"{caller} ({kind})" if caller else kind


def _caller_name(tb: types.TracebackType, module: nn.Module) -> str | None:
    """The name the calling user frame has for ``module`` ("model", "self.layers[1]")."""
    if not _is_user(tb):
        return None
    local = tb.tb_frame.f_locals
    for name, value in local.items():
        if value is module and name != "self":
            return name
    owner = local.get("self")
    attrs = _instance_dict(owner) if owner is not None else {}
    if isinstance(owner, nn.Module):
        attrs = {**attrs, **owner._modules}
    for name, value in attrs.items():
        if value is module:
            return f"self.{name}"
        if isinstance(value, (list, tuple, nn.ModuleList)):
            for j, item in enumerate(value):
                if item is module:
                    return f"self.{name}[{j}]"
        if isinstance(value, (dict, nn.ModuleDict)):
            for key, item in value.items():
                if item is module:
                    return f"self.{name}[{key!r}]"
    return None


def _input_refs(
    module: nn.Module, label: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[TensorRef, ...]:
    names = _forward_parameter_names(module)
    given = [
        (names[i] if i < len(names) else f"argument {i + 1}", value)
        for i, value in enumerate(args)
        if isinstance(value, torch.Tensor)
    ]
    given += [(key, value) for key, value in kwargs.items() if isinstance(value, torch.Tensor)]
    only = len(given) == 1
    return tuple(_ref(f"{_input_role(name, only)} of {label}", value) for name, value in given)


def _input_role(name: str, only: bool) -> str:
    if name in ("input", "target"):
        return name
    return "input" if only else f"input {name!r}"


def _forward_parameter_names(module: nn.Module) -> list[str]:
    try:
        params = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds]


def _functional_op(tbs: list[types.TracebackType]) -> OpCall | None:
    """The first torch.nn.functional frame below the user's code and the modules."""
    for tb in tbs:
        code = tb.tb_frame.f_code
        if not code.co_filename.endswith(_FUNCTIONAL_FILE):
            continue
        argnames = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        local = tb.tb_frame.f_locals
        tensors = {
            name: _ref(f"{name} of F.{code.co_name}", local[name])
            for name in argnames
            if isinstance(local.get(name), torch.Tensor)
        }
        return OpCall(code.co_name, tensors)
    return None


def _forward_info(
    frame: types.FrameType | None,
) -> tuple[nn.Module | None, tuple[str, ...], Any]:
    """If the user's frame is a method of a module, that module and the method's arguments."""
    if frame is None:
        return None, (), None
    code = frame.f_code
    argnames = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    owner = frame.f_locals.get("self")
    module = owner if isinstance(owner, nn.Module) and code.co_name == "forward" else None
    return module, tuple(a for a in argnames if a != "self"), owner


# -- the failing expression ----------------------------------------------------------------------
def _failing_node(tb: types.TracebackType) -> ast.expr | None:
    """The expression the user's frame was evaluating, from the instruction's source span."""
    code = tb.tb_frame.f_code
    filename = code.co_filename
    span = _instruction_span(code, tb.tb_lasti)
    if span is not None:
        node = _parse_span(filename, *span)
        if node is not None:
            return node
    return _parse_line(linecache.getline(filename, tb.tb_lineno))


def _instruction_span(code: types.CodeType, lasti: int) -> tuple[int, int, int, int] | None:
    try:
        positions = list(code.co_positions())[lasti // 2]
    except (AttributeError, IndexError):
        return None
    if any(p is None for p in positions):
        return None
    return positions  # type: ignore[return-value]


def _parse_span(filename: str, line: int, end_line: int, col: int, end_col: int) -> Any:
    # Columns count UTF-8 bytes.
    lines = [linecache.getline(filename, n).encode() for n in range(line, end_line + 1)]
    if not lines or not lines[0]:
        return None
    if len(lines) == 1:
        lines[0] = lines[0][col:end_col]
    else:
        lines[0], lines[-1] = lines[0][col:], lines[-1][:end_col]
    text = b"".join(lines).decode(errors="replace")
    try:
        return ast.parse("(\n" + text + "\n)", mode="eval").body
    except SyntaxError:
        return None


def _parse_line(line: str) -> ast.expr | None:
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        return None
    if not tree.body:
        return None
    stmt = tree.body[0]
    value = getattr(stmt, "value", None)
    return value if isinstance(value, ast.expr) else None


def _operand_nodes(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.Call):
        nodes = [*node.args, *(k.value for k in node.keywords)]
        if isinstance(node.func, ast.Attribute):
            nodes.insert(0, node.func.value)
    elif isinstance(node, ast.BinOp):
        nodes = [node.left, node.right]
    elif isinstance(node, ast.Compare):
        nodes = [node.left, *node.comparators]
    elif isinstance(node, ast.Subscript):
        nodes = [node.value, node.slice]
    else:
        nodes = [node]
    out: list[ast.expr] = []
    for n in nodes:
        inner = n.value if isinstance(n, ast.Starred) else n
        out.extend(inner.elts if isinstance(inner, (ast.List, ast.Tuple)) else [inner])
    return out


def _operand_refs(node: ast.expr, frame: types.FrameType) -> tuple[TensorRef, ...]:
    refs: list[TensorRef] = []
    for operand in _operand_nodes(node):
        value = _resolve(operand, frame)
        if isinstance(value, torch.Tensor) and all(r.tensor is not value for r in refs):
            refs.append(_ref(ast.unparse(operand), value))
    return tuple(refs)


def _callee(node: ast.expr | None) -> str:
    return ast.unparse(node.func) if isinstance(node, ast.Call) else ""


def _receiver(node: ast.expr | None) -> str:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return ast.unparse(node.func.value)
    return ""


def _resolve(node: ast.expr, frame: types.FrameType) -> Any:
    """The value of a name, attribute chain or constant index, without running user code."""
    if isinstance(node, ast.Name):
        for scope in (frame.f_locals, frame.f_globals):
            if node.id in scope:
                return scope[node.id]
        return None
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, frame)
        value = _static_attr(base, node.attr) if base is not None else _MISSING
        return None if value is _MISSING else value
    if isinstance(node, ast.Subscript):
        base = _resolve(node.value, frame)
        key = _constant(node.slice)
        if isinstance(base, _CONTAINERS) and key is not _MISSING:
            try:
                return base[key]  # type: ignore[index]
            except (IndexError, KeyError, TypeError):
                return None
    return None


def _constant(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int)
    ):
        return -node.operand.value
    return _MISSING


def _static_attr(obj: Any, name: str) -> Any:
    if isinstance(obj, nn.Module):
        for store in (obj._parameters, obj._buffers, obj._modules):
            if name in store:
                return store[name]
    return _instance_dict(obj).get(name, _MISSING)


def _instance_dict(obj: Any) -> dict[str, Any]:
    try:
        d = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return {}
    return d if isinstance(d, dict) else dict(d)


def _frame_tensors(
    frame: types.FrameType | None, operands: tuple[TensorRef, ...]
) -> tuple[TensorRef, ...]:
    if frame is None:
        return ()
    taken = {id(r.tensor) for r in operands}
    return tuple(
        _ref(name, value)
        for name, value in frame.f_locals.items()
        if isinstance(value, torch.Tensor) and id(value) not in taken
    )


def _ref(name: str, tensor: torch.Tensor) -> TensorRef:
    return TensorRef(name, tuple(tensor.shape), str(tensor.device), tensor)
