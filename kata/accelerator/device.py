"""The simulated accelerator's tensor: computes on the CPU, says it lives on ``cuda:0``.

A :class:`SimulatedTensor` is a wrapper subclass (``torch.Tensor._make_wrapper_subclass``)
around a plain CPU tensor. It is backed by the "meta" device at the C++ level, because a
wrapper that claims "cuda" there makes a CUDA build of torch without a driver abort inside its
device guard; at the Python level (``.device``, ``.is_cuda``, ``repr``, ``.numpy()``,
``.cpu()``) it is a ``cuda:0`` tensor, and that is where user code and the diagnostics look.

Every aten op that touches one lands in ``__torch_dispatch__``, below autograd: the op's
device rules are checked first (``rules``), then it runs on the unwrapped CPU
tensors and the results are wrapped again. Autograd, optimizers and modules sit above and
see ordinary tensors, so a run computes exactly what the same run computes on the CPU.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, NamedTuple, TypeGuard

import torch
from torch.utils._mode_utils import no_dispatch

from . import rules

__all__ = [
    "DEVICE",
    "SimulatedTensor",
    "UnsupportedOperation",
    "become",
    "check_device",
    "compatible_for_data",
    "is_accelerator",
    "is_simulated",
    "simulate",
    "tensor_to",
    "to_accelerator",
    "wrap",
]

# pytest and the diagnostics leave frames of modules marked so out of the tracebacks they show.
__tracebackhide__ = True

DEVICE = torch.device("cuda", 0)
_CPU = torch.device("cpu")
_META = torch.device("meta")

_UNSUPPORTED = (
    "the simulated accelerator does not support {op}: it computes every operation on the "
    "CPU, and torch has no CPU kernel for this one ({reason}). Run this code on a real GPU, "
    "or do this step on the CPU: move its tensors there with .cpu() first."
)


class UnsupportedOperation(RuntimeError):
    """An operation the simulated accelerator cannot run (torch has no CPU kernel for it)."""


class SimulatedTensor(torch.Tensor):
    """A tensor on the simulated accelerator; ``_inner`` holds its data on the CPU."""

    _inner: torch.Tensor

    # No torch-function layer: torch's Python functions see an ordinary tensor, and results
    # stay what dispatch made them. What a GPU tensor answers differently is below.
    __torch_function__ = torch._C._disabled_torch_function_impl

    @staticmethod
    def __new__(cls, inner: torch.Tensor) -> SimulatedTensor:
        return wrap(inner)

    # -- where it lives ---------------------------------------------------------------------
    @property  # type: ignore[override]
    def device(self) -> torch.device:
        return DEVICE

    @property  # type: ignore[override]
    def is_cuda(self) -> bool:
        return True

    @property  # type: ignore[override]
    def is_cpu(self) -> bool:
        return False

    @property  # type: ignore[override]
    def is_meta(self) -> bool:
        return False

    def get_device(self) -> int:
        return DEVICE.index

    def type(self, dtype: Any = None, non_blocking: bool = False, **kwargs: Any) -> Any:
        if dtype is None:
            return rules.legacy_type_name(self)
        return retype(self, dtype, non_blocking)

    # -- moving, and what needs host memory -------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> torch.Tensor:  # type: ignore[override]
        return tensor_to(self, args, kwargs)

    def cuda(self, device: Any = None, non_blocking: bool = False, **kwargs: Any) -> Any:
        check_device(DEVICE if device is None else device)
        return self

    def cpu(self, memory_format: torch.memory_format = torch.preserve_format) -> torch.Tensor:
        return to_host(self)

    def numpy(self, *, force: bool = False) -> Any:
        if not force:
            raise TypeError(NUMPY)
        return self._inner.detach().numpy(force=True).copy()

    def tolist(self) -> Any:
        return self._inner.tolist()

    def pin_memory(self, device: Any = None) -> torch.Tensor:
        raise RuntimeError(PIN.format(name=rules.legacy_type_name(self)))

    def is_pinned(self, device: Any = None) -> bool:
        return False

    @property  # type: ignore[override]
    def data(self) -> torch.Tensor:
        return torch.Tensor.data.__get__(self)  # type: ignore[attr-defined]

    @data.setter
    def data(self, value: torch.Tensor) -> None:
        set_data(self, value)

    # -- printing, copying, saving ----------------------------------------------------------
    def __repr__(self, *, tensor_contents: Any = None) -> str:
        return _repr(self)

    def __format__(self, format_spec: str) -> str:
        # torch formats a 0-dim tensor as a number (f"{loss:.3f}"), for plain tensors only.
        if self.dim() == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

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
        # simulated accelerator loads anywhere, like one saved from a GPU with map_location.
        plain = self._inner.detach().clone()
        if getattr(self, "_is_param", False):
            return (torch._utils._rebuild_parameter, (plain, self.requires_grad, OrderedDict()))
        plain.requires_grad_(self.requires_grad)
        return plain.__reduce_ex__(protocol)

    # -- the computation ----------------------------------------------------------------------
    @classmethod
    def __torch_dispatch__(  # type: ignore[override]
        cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        return simulate(func, args, kwargs or {})


def simulate(func: Any, args: tuple, kwargs: dict) -> Any:
    """Run aten op ``func`` on the simulated accelerator, with torch's device checks."""
    __tracebackhide__ = True
    if _has_plain_tensor(args, kwargs):
        problem = rules.device_problem(func, args, kwargs)
        if problem is rules.RUN_COMPOSITE:
            # torch builds this op from others: run its recipe on these tensors, so that
            # the mixing is caught, in torch's words, by the inner op a GPU rejects.
            return func._op_dk(torch._C.DispatchKey.CompositeExplicitAutograd, *args, **kwargs)
        if problem is not None:
            args = kwargs = None  # type: ignore[assignment]  # no operands in the traceback
            raise problem
    plan = _PLANS.get(id(func)) or _plan(func)
    if plan.special is not None:
        return plan.special(func, args, kwargs)
    try:
        out = func._op(*[_unwrap(a) for a in args], **_unwrap_kwargs(kwargs))
    except (NotImplementedError, RuntimeError) as exc:
        if "Could not run" not in str(exc) or "'CPU' backend" not in str(exc):
            raise
        raise UnsupportedOperation(
            _UNSUPPORTED.format(op=rules.op_name(func), reason=_first_line(exc))
        ) from None
    if plan.mutated:
        result = _mutated_result(plan, args, kwargs, out)
        if plan.reshapes:
            _sync_metadata(plan, args, kwargs)
        return result
    device = kwargs.get("device")
    if device is not None and torch.device(device).type == "cpu":
        return out
    return _wrap_all(out)


# -- wrapping ----------------------------------------------------------------------------------
def wrap(inner: torch.Tensor, *, requires_grad: bool = False) -> SimulatedTensor:
    """A tensor on the simulated accelerator holding ``inner``, a plain CPU tensor."""
    t = torch.Tensor._make_wrapper_subclass(
        SimulatedTensor,
        inner.size(),
        strides=inner.stride(),
        storage_offset=inner.storage_offset(),
        dtype=inner.dtype,
        layout=inner.layout,
        device=_META,
        requires_grad=requires_grad,
    )
    t._inner = inner
    return t


def is_simulated(t: object) -> TypeGuard[SimulatedTensor]:
    """Is ``t`` a tensor on the simulated accelerator?"""
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
        return _CPU  # torch made it from a simulated tensor's options: it means "here"
    return x


def _unwrap_kwargs(kwargs: dict) -> dict:
    return {k: _unwrap(v) for k, v in kwargs.items()} if kwargs else kwargs


def _wrap_all(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return wrap(out) if type(out) is torch.Tensor else out
    if type(out) in (list, tuple):
        return type(out)(_wrap_all(o) for o in out)
    return out


# -- what to do with each op, worked out once --------------------------------------------------
class _Plan(NamedTuple):
    special: Any  # a handler of its own, or None
    mutated: tuple[tuple[int, str | int], ...]  # (return index, the argument it returns)
    returns: int
    reshapes: bool  # may change the shape of what it mutates (transpose_, out=, resize_)


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
    reshapes = (
        torch.Tag.inplace_view in func.tags
        or any(arg.kwarg_only and arg.alias_info is not None for arg in schema.arguments)
        or schema.name in ("aten::resize_", "aten::resize_as_", "aten::set_")
    )
    plan = _Plan(_SPECIAL.get(func), tuple(mutated), len(schema.returns), reshapes)
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


def _sync_metadata(plan: _Plan, args: tuple, kwargs: dict) -> None:
    """Give a mutated wrapper its inner tensor's new shape (after transpose_, resize_, out=)."""
    for _, where in plan.mutated:
        t = kwargs[where] if isinstance(where, str) else args[where]
        if not isinstance(t, SimulatedTensor):
            continue
        inner = t._inner
        if (t.size(), t.stride(), t.storage_offset()) == (
            inner.size(),
            inner.stride(),
            inner.storage_offset(),
        ):
            continue
        # The wrapper's own storage is on "meta": its metadata can be set there directly,
        # with dispatch to Python off so that only the wrapper changes.
        with no_dispatch():
            elements = inner.untyped_storage().nbytes() // max(inner.element_size(), 1)
            torch.ops.aten.resize_.default(t, [elements])
            torch.ops.aten.as_strided_.default(
                t, inner.size(), inner.stride(), inner.storage_offset()
            )


# -- ops that need more than unwrap, compute, wrap ---------------------------------------------
def _local_scalar_dense(func: Any, args: tuple, kwargs: dict) -> Any:
    return args[0]._inner.item()  # .item(): the one way a number leaves the device


def _copy_(func: Any, args: tuple, kwargs: dict) -> Any:
    dst, src = args[0], args[1]  # copy_ crosses devices by design
    _unwrap(dst).copy_(_unwrap(src), *args[2:], **kwargs)
    return dst


def _to_copy(func: Any, args: tuple, kwargs: dict) -> Any:
    out = func._op(_unwrap(args[0]), *args[1:], **_unwrap_kwargs(kwargs))
    device = kwargs.get("device")
    if device is not None and torch.device(device).type == "cpu":
        return out
    return wrap(out)


_SPECIAL = {
    torch.ops.aten._local_scalar_dense.default: _local_scalar_dense,
    torch.ops.aten.copy_.default: _copy_,
    torch.ops.aten._to_copy.default: _to_copy,
}


# -- text ------------------------------------------------------------------------------------
def _first_line(exc: BaseException) -> str:
    """The first sentence of torch's message."""
    text = str(exc).strip()
    return text.split(". ")[0].splitlines()[0] if text else type(exc).__name__


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


# -- moving between the CPU and the accelerator ----------------------------------------------------
# Moving tensors between the CPU and the simulated accelerator, the way torch does on a GPU.
#
# ``t.to(device)`` / ``.cuda()`` / ``.cpu()`` copy, and the copy is differentiable both ways;
# ``.to`` returns ``t`` itself when nothing changes. ``model.to(device)`` moves parameters in
# place: on a GPU it assigns ``param.data``, so the parameter objects, which the optimizer
# holds, stay the same; here the object must also change class, which :func:`become` does.

NUMPY = (
    "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to "
    "host memory first."
)
PIN = "cannot pin '{name}' only dense CPU tensors can be pinned"
_NO_SUCH_DEVICE = (
    "CUDA error: invalid device ordinal. The simulated accelerator has one device, cuda:0; "
    "{device} was asked for."
)


def check_device(device: Any) -> torch.device:
    """``device`` as a torch.device; refuses accelerator indices other than 0."""
    __tracebackhide__ = True
    if isinstance(device, int):  # torch reads a bare int as a CUDA index
        device = torch.device("cuda", device)
    elif not isinstance(device, torch.device):
        device = torch.device(device)
    if device.type == "cuda" and device.index not in (None, 0):
        raise RuntimeError(_NO_SUCH_DEVICE.format(device=device))
    return device


def is_accelerator(device: Any) -> bool:
    """Does ``device`` (str, int or torch.device) name the accelerator?"""
    __tracebackhide__ = True
    return device is not None and check_device(device).type == "cuda"


# -- copies ------------------------------------------------------------------------------------
class _ToAccelerator(torch.autograd.Function):
    """CPU -> accelerator; the gradient goes back to the CPU tensor."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        __tracebackhide__ = True
        return wrap(t.detach().clone())

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        __tracebackhide__ = True
        return grad._inner.clone() if is_simulated(grad) else grad


class _ToHost(torch.autograd.Function):
    """Accelerator -> CPU; the gradient goes back to the accelerator."""

    @staticmethod
    def forward(ctx: Any, t: SimulatedTensor) -> torch.Tensor:
        __tracebackhide__ = True
        return t._inner.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        __tracebackhide__ = True
        return grad if is_simulated(grad) else wrap(grad.clone())


def to_accelerator(t: torch.Tensor) -> torch.Tensor:
    """A copy of CPU tensor ``t`` on the accelerator."""
    __tracebackhide__ = True
    if t.requires_grad and torch.is_grad_enabled():
        return _ToAccelerator.apply(t)
    return wrap(t.detach().clone())


def to_host(t: SimulatedTensor) -> torch.Tensor:
    """A copy of simulated tensor ``t`` on the CPU."""
    __tracebackhide__ = True
    if t.requires_grad and torch.is_grad_enabled():
        return _ToHost.apply(t)
    return t._inner.clone()


# -- Tensor.to ---------------------------------------------------------------------------------
def tensor_to(t: torch.Tensor, args: tuple, kwargs: dict) -> torch.Tensor:
    """``t.to(*args, **kwargs)`` for a tensor on either side."""
    __tracebackhide__ = True
    target = _target_device(args, kwargs)
    if target is None or target.type not in ("cpu", "cuda"):
        return torch.Tensor.to(t, *args, **kwargs)
    rest, kwargs = _without_device(args, kwargs)
    if target.type == "cuda":
        if is_simulated(t):
            # Its C++ device is "meta", so .to(meta) leaves the device alone, converts the
            # dtype if asked, and returns t itself when nothing changes, as torch does.
            return torch.Tensor.to(t, _META, *rest, **kwargs)
        if t.device.type != "cpu":
            return torch.Tensor.to(t, *args, **kwargs)  # another device: torch's own answer
        return to_accelerator(torch.Tensor.to(t, _CPU, *rest, **kwargs))
    if is_simulated(t):
        return torch.Tensor.to(to_host(t), _CPU, *rest, **kwargs)
    return torch.Tensor.to(t, *args, **kwargs)


def _target_device(args: tuple, kwargs: dict) -> torch.device | None:
    __tracebackhide__ = True
    if args and isinstance(args[0], torch.Tensor):  # .to(other): other's device and dtype
        return args[0].device
    if kwargs.get("device") is not None:
        return check_device(kwargs["device"])
    if args and args[0] is not None and not isinstance(args[0], torch.dtype):
        return check_device(args[0])
    return None


def _without_device(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """.to()'s arguments without the device (dtype, non_blocking, copy stay)."""
    __tracebackhide__ = True
    if args and isinstance(args[0], torch.Tensor):
        return args[1:], {**kwargs, "dtype": args[0].dtype}
    if "device" in kwargs:
        return args, {k: v for k, v in kwargs.items() if k != "device"}
    return args[1:], kwargs


def retype(t: SimulatedTensor, dtype: Any, non_blocking: bool) -> torch.Tensor:
    """``t.type(...)``: "torch.cuda.DoubleTensor" stays here, "torch.DoubleTensor" leaves."""
    __tracebackhide__ = True
    if isinstance(dtype, str) and ".cuda." not in dtype:
        return to_host(t).type(dtype, non_blocking)
    if isinstance(dtype, str):
        dtype = torch.empty((), device="meta").type(dtype.replace(".cuda.", ".")).dtype
    return torch.Tensor.to(t, dtype, non_blocking)


# -- param.data = ... --------------------------------------------------------------------------
def set_data(t: torch.Tensor, value: torch.Tensor) -> None:
    """``t.data = value``; across the CPU / accelerator line, t changes device in place."""
    __tracebackhide__ = True
    if is_simulated(t) and is_simulated(value):
        torch.Tensor.data.__set__(t, value)  # type: ignore[attr-defined]
        t._inner = value._inner
    elif is_simulated(t) != is_simulated(value) and value.device.type in ("cpu", "cuda"):
        become(t, value)
    else:
        torch.Tensor.data.__set__(t, value)  # type: ignore[attr-defined]


def become(t: torch.Tensor, data: torch.Tensor) -> None:
    """Make tensor object ``t`` hold ``data``, from the other side of the CPU / accelerator line.

    Like ``t.data = data`` on a GPU: ``t`` stays the same object (so optimizers, modules and
    weak references that hold it see the move) and keeps its requires_grad and gradient,
    moved along. Its class changes with its device (plain tensor <-> SimulatedTensor), so
    its class, attributes and C++ tensor are swapped for those of a fresh tensor.
    """
    __tracebackhide__ = True
    grad = t.grad if t.is_leaf else None
    if grad is not None:
        t.grad = None
    fresh = data.detach()
    fresh = wrap(fresh._inner) if is_simulated(fresh) else fresh.clone()
    fresh.requires_grad_(t.requires_grad)
    attrs = {k: v for k, v in vars(t).items() if k != "_inner"}
    cls: type
    if is_simulated(fresh):
        attrs["_inner"] = fresh._inner
        cls = SimulatedTensor
        if isinstance(t, torch.nn.Parameter):
            attrs["_is_param"] = True  # how torch marks a subclass instance as a Parameter
    else:
        cls = torch.nn.Parameter if isinstance(t, torch.nn.Parameter) else torch.Tensor
        attrs.pop("_is_param", None)
    torch._C._swap_tensor_impl(t, fresh)
    t.__class__ = cls
    t.__dict__ = attrs
    if grad is not None:
        t.grad = to_host(grad) if is_simulated(grad) else to_accelerator(grad)


def compatible_for_data(a: torch.Tensor, b: torch.Tensor) -> bool | None:
    """True when ``a.data = b`` crosses the CPU / accelerator line (Module._apply asks)."""
    __tracebackhide__ = True
    if is_simulated(a) != is_simulated(b) and {a.device.type, b.device.type} == {"cpu", "cuda"}:
        return True
    return None
