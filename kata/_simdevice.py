"""The simulated accelerator's tensor: computes on the CPU, says it lives on ``cuda:0``.

A :class:`SimulatedTensor` is a wrapper subclass (``torch.Tensor._make_wrapper_subclass``)
around a plain CPU tensor. It is backed by the "meta" device at the C++ level, because a
wrapper that claims "cuda" there makes a CUDA build of torch without a driver abort inside its
device guard; at the Python level (``.device``, ``.is_cuda``, ``repr``) it says ``cuda:0``,
which is where user code and the diagnostics read devices from.

Every aten op that touches one lands in ``__torch_dispatch__``, below autograd: the op's
device rules are checked first (``_simdevice_rules``), then it runs on the unwrapped CPU
tensors and the results are wrapped again. Autograd, optimizers and modules sit above and
see ordinary tensors.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, NamedTuple

import torch

from . import _simdevice_rules as rules

# pytest (and the diagnostics) leave this plumbing out of the tracebacks they show.
__tracebackhide__ = True

DEVICE = torch.device("cuda", 0)

_UNSUPPORTED = (
    "the simulated accelerator does not support {op}: it computes every operation on the "
    "CPU, and torch has no CPU kernel for this one ({reason}). Run this code on a real GPU, "
    "or do this step on the CPU: move its tensors with .cpu() first."
)
_GPU_ONLY_MARKERS = ("Could not run", "not implemented for", "no kernel", "NotImplementedError")


class UnsupportedOperation(RuntimeError):
    """An operation the simulated accelerator cannot run (no CPU implementation)."""


class SimulatedTensor(torch.Tensor):
    """A tensor on the simulated accelerator; ``_inner`` holds its data on the CPU."""

    _inner: torch.Tensor

    # No torch-function layer of our own: results must stay what dispatch made them, and
    # the accelerator's mode (``_simdevice_mode``) handles the Python-level calls.
    __torch_function__ = torch._C._disabled_torch_function_impl

    @staticmethod
    def __new__(cls, inner: torch.Tensor, *, requires_grad: bool = False) -> SimulatedTensor:
        return wrap(inner, requires_grad=requires_grad)

    # -- what user code reads ------------------------------------------------------------
    @property  # type: ignore[override]
    def device(self) -> torch.device:
        return DEVICE

    @property  # type: ignore[override]
    def is_cuda(self) -> bool:
        return True

    @property  # type: ignore[override]
    def is_meta(self) -> bool:
        return False

    @property  # type: ignore[override]
    def is_cpu(self) -> bool:
        return False

    def __repr__(self, *, tensor_contents: Any = None) -> str:
        return _repr(self)

    def __format__(self, format_spec: str) -> str:
        # torch.Tensor.__format__ formats 0-dim tensors as numbers for plain tensors only.
        if self.dim() == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    # -- copying and saving ---------------------------------------------------------------
    def __deepcopy__(self, memo: dict[int, Any]) -> SimulatedTensor:
        if id(self) in memo:
            return memo[id(self)]
        if not self.is_leaf:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment.  If you were attempting to deepcopy a module, "
                "this may be because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001"
            )
        with torch.no_grad():
            new = wrap(copy.deepcopy(self._inner, memo))
        new.requires_grad_(self.requires_grad)
        memo[id(self)] = new
        if self.grad is not None:
            new.grad = copy.deepcopy(self.grad, memo)
        for key, value in self.__dict__.items():
            if key != "_inner":
                setattr(new, key, copy.deepcopy(value, memo))
        return new

    def __reduce_ex__(self, protocol: int) -> Any:
        # Saved as what it holds, a CPU tensor (or Parameter): a checkpoint written on the
        # simulated accelerator loads anywhere, as one saved from a GPU does with map_location.
        plain = self._inner.detach().clone()
        if getattr(self, "_is_param", False):
            return (torch._utils._rebuild_parameter, (plain, self.requires_grad, OrderedDict()))
        plain.requires_grad_(self.requires_grad)
        return plain.__reduce_ex__(protocol)

    # -- the computation ----------------------------------------------------------------------
    @classmethod
    def __torch_dispatch__(
        cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        __tracebackhide__ = True
        kwargs = kwargs or {}
        problem = (
            rules.device_problem(func, args, kwargs) if _has_plain_tensor(args, kwargs) else None
        )
        if problem is rules.RUN_COMPOSITE:
            # torch builds this op from others: run its recipe on our tensors, so the
            # mixing is caught (with torch's words) by the inner op that a GPU rejects.
            return func._op_dk(torch._C.DispatchKey.CompositeExplicitAutograd, *args, **kwargs)
        if problem is not None:
            args = kwargs = None  # type: ignore[assignment]  # keep frames free of operands
            raise problem
        plan = _PLANS.get(id(func)) or _plan(func)
        if plan.special is not None:
            return plan.special(func, args, kwargs)
        try:
            out = func._op(*_unwrap_all(args), **_unwrap_kwargs(kwargs))
        except (NotImplementedError, RuntimeError) as exc:
            if not _is_missing_cpu_kernel(exc):
                raise
            raise UnsupportedOperation(
                _UNSUPPORTED.format(op=op_name(func), reason=_first_line(exc))
            ) from None
        if plan.mutated:
            return _mutated_result(plan, args, kwargs, out)
        device = kwargs.get("device")
        if device is not None and torch.device(device).type == "cpu":
            return out
        return _wrap_all(out)


# -- wrapping ----------------------------------------------------------------------------------
def wrap(inner: torch.Tensor, *, requires_grad: bool = False) -> SimulatedTensor:
    """A simulated-accelerator tensor holding ``inner`` (a plain CPU tensor)."""
    t = torch.Tensor._make_wrapper_subclass(
        SimulatedTensor,
        inner.size(),
        strides=inner.stride(),
        storage_offset=inner.storage_offset(),
        dtype=inner.dtype,
        layout=inner.layout,
        device="meta",
        requires_grad=requires_grad,
    )
    t._inner = inner
    return t


def is_simulated(t: object) -> bool:
    return type(t) is SimulatedTensor


def _has_plain_tensor(args: tuple, kwargs: dict) -> bool:
    """Does a tensor that is not on the simulated device take part? (the hot path: cheap)"""
    for group in (args, kwargs.values()):
        for a in group:
            if isinstance(a, torch.Tensor):
                if type(a) is not SimulatedTensor:
                    return True
            elif type(a) in (list, tuple):
                for i in a:
                    if isinstance(i, torch.Tensor) and type(i) is not SimulatedTensor:
                        return True
    return False


def _unwrap(x: Any) -> Any:
    if type(x) is SimulatedTensor:
        return x._inner
    if type(x) in (list, tuple) and x and any(type(i) is SimulatedTensor for i in x):
        return type(x)(i._inner if type(i) is SimulatedTensor else i for i in x)
    if isinstance(x, torch.device) and x.type == "meta":
        return _CPU
    return x


def _unwrap_all(args: tuple) -> list:
    return [_unwrap(a) for a in args]


def _unwrap_kwargs(kwargs: dict) -> dict:
    return {k: _unwrap(v) for k, v in kwargs.items()} if kwargs else kwargs


def _wrap_all(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return wrap(out) if type(out) is torch.Tensor else out
    if type(out) in (list, tuple):
        return type(out)(_wrap_all(o) for o in out)
    return out


_CPU = torch.device("cpu")


# -- what to do with each op, worked out once ------------------------------------------------------
class _Plan(NamedTuple):
    special: Any  # a handler of its own, or None
    mutated: tuple[tuple[int, str | int], ...]  # (return index, the argument it is)
    returns: int


_PLANS: dict[int, _Plan] = {}  # by id(): OpOverloads live as long as torch, and hash slowly


def _plan(func: Any) -> _Plan:
    schema = func._schema
    mutated = []
    for i, ret in enumerate(schema.returns):
        if ret.alias_info is None or not ret.alias_info.is_write:
            continue
        for j, arg in enumerate(schema.arguments):
            if arg.alias_info is not None and arg.alias_info.before_set == (
                ret.alias_info.before_set
            ):
                mutated.append((i, arg.name if arg.kwarg_only else j))
                break
    plan = _Plan(_SPECIAL.get(func), tuple(mutated), len(schema.returns))
    _PLANS[id(func)] = plan
    return plan


def _mutated_result(plan: _Plan, args: tuple, kwargs: dict, out: Any) -> Any:
    """In-place and out= ops return the very tensors they were given."""

    def original(where: str | int) -> Any:
        return kwargs[where] if isinstance(where, str) else args[where]

    if plan.returns == 1:
        return original(plan.mutated[0][1])
    results = list(out) if isinstance(out, (list, tuple)) else [out]
    for i, where in plan.mutated:
        results[i] = original(where)
    return tuple(r if isinstance(r, SimulatedTensor) else _wrap_all(r) for r in results)


# -- ops that need more than unwrap, compute, wrap ------------------------------------------------
def _local_scalar_dense(func: Any, args: tuple, kwargs: dict) -> Any:
    return args[0]._inner.item()


def _copy_(func: Any, args: tuple, kwargs: dict) -> Any:
    dst, src = args[0], args[1]
    _unwrap(dst).copy_(_unwrap(src), *args[2:], **kwargs)
    return dst


def _to_copy(func: Any, args: tuple, kwargs: dict) -> Any:
    device = kwargs.get("device")
    out = func(_unwrap(args[0]), *args[1:], **_unwrap_kwargs(kwargs))
    if device is not None and torch.device(device).type == "cpu":
        return out
    return wrap(out)


_SPECIAL = {
    torch.ops.aten._local_scalar_dense.default: _local_scalar_dense,
    torch.ops.aten.copy_.default: _copy_,
    torch.ops.aten._to_copy.default: _to_copy,
}


# -- messages ------------------------------------------------------------------------------------
def op_name(func: Any) -> str:
    """``aten.addmm.default`` -> ``aten.addmm``; keeps a meaningful overload name."""
    ns, name = func._schema.name.split("::")
    overload = func._overloadname
    return f"{ns}.{name}" if overload == "default" else f"{ns}.{name}.{overload}"


def _is_missing_cpu_kernel(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not run" in text and "'CPU' backend" in text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _repr(t: SimulatedTensor) -> str:
    """torch's repr of the same tensor on a GPU: the CPU repr with the device suffix added."""
    text = repr(t._inner)
    body_end = text.rindex("]") + 1 if "[" in text else _scalar_end(text)
    suffixes = ", device='cuda:0'" + text[body_end:-1]
    grad_fn = t.grad_fn
    if grad_fn is not None:
        name = type(grad_fn).__name__
        if name == "CppFunction":
            name = grad_fn.name().rsplit("::", 1)[-1]
        suffixes += f", grad_fn=<{name}>"
    elif t.requires_grad:
        suffixes += ", requires_grad=True"
    text = text[:body_end] + suffixes + ")"
    if getattr(t, "_is_param", False):
        return "Parameter containing:\n" + text
    return text


def _scalar_end(text: str) -> int:
    comma = text.find(",")
    return comma if comma != -1 else len(text) - 1
