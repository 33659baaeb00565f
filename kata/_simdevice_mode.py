"""The Python-level half of the simulated accelerator: where tensors are put on it.

A ``TorchFunctionMode`` sees every torch call made while the accelerator is active. Most
pass straight through; these are handled here:

* any call with ``device="cuda"`` (factories such as ``torch.zeros(..., device=device)``,
  ``new_*``, ``*_like``): made on the CPU, the result wrapped as a simulated tensor;
* ``Tensor.to`` / ``.cuda()`` / ``.cpu()``: moves, differentiable both ways like real ones;
* ``Tensor.numpy()``: refused with torch's words for a GPU tensor;
* ``torch.gru`` / ``lstm`` / ``rnn_*``: torch's device check for recurrent layers, which
  runs in C++ where a simulated tensor's device cannot be seen.

``install`` / ``uninstall`` also patch the few ``torch.cuda`` functions that device-picking
code calls (``is_available``, ``device_count``, ...), and nothing else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from . import _simdevice_rules as rules
from ._simdevice import DEVICE, SimulatedTensor, is_simulated, wrap

__tracebackhide__ = True

_NUMPY = (
    "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to "
    "host memory first."
)
_NO_SUCH_DEVICE = (
    "CUDA error: invalid device ordinal: the simulated accelerator has one device, cuda:0, "
    "and {device} was asked for."
)
_PIN = "cannot pin 'torch.cuda.{kind}' only dense CPU tensors can be pinned"
_CPU = torch.device("cpu")
_META = torch.device("meta")
_ABSENT = object()


def is_accelerator(device: Any) -> bool:
    """Does ``device`` (str, int, torch.device) name the accelerator?"""
    if device is None:
        return False
    if isinstance(device, int):  # torch reads a bare int as a CUDA index
        device = torch.device("cuda", device)
    elif not isinstance(device, torch.device):
        device = torch.device(device)
    if device.type != "cuda":
        return False
    if device.index not in (None, 0):
        raise RuntimeError(_NO_SUCH_DEVICE.format(device=device))
    return True


class AcceleratorMode(TorchFunctionMode):
    """Routes device placement to the simulated accelerator."""

    def __torch_function__(
        self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        __tracebackhide__ = True
        kwargs = kwargs or {}
        handler = _HANDLERS.get(func)
        if handler is not None:
            return handler(func, args, kwargs)
        device = kwargs.get("device")
        if device is not None and is_accelerator(device):
            return _wrap_new(func(*args, **{**kwargs, "device": _CPU}))
        return func(*args, **kwargs)


# -- moving tensors ------------------------------------------------------------------------------
class _ToAccelerator(torch.autograd.Function):
    """CPU -> accelerator, differentiable: the gradient comes back to the CPU tensor."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        return wrap(t.clone())

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad._inner.clone() if is_simulated(grad) else grad


class _ToHost(torch.autograd.Function):
    """Accelerator -> CPU, differentiable: the gradient goes back to the accelerator."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        return t._inner.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad if is_simulated(grad) else wrap(grad.clone())


def to_accelerator(t: torch.Tensor) -> torch.Tensor:
    """A copy of CPU tensor ``t`` on the accelerator (``t.to("cuda")``)."""
    if t.requires_grad and torch.is_grad_enabled():
        return _ToAccelerator.apply(t)
    return wrap(t.detach().clone())


def to_host(t: torch.Tensor) -> torch.Tensor:
    """A copy of simulated tensor ``t`` on the CPU (``t.cpu()``)."""
    if t.requires_grad and torch.is_grad_enabled():
        return _ToHost.apply(t)
    return t._inner.clone()


def _to(func: Any, args: tuple, kwargs: dict) -> Any:
    self, rest = args[0], args[1:]
    target = _target_device(rest, kwargs)
    if target is None or not (target.type == "cpu" or is_accelerator(target)):
        return func(*args, **kwargs)
    rest, kwargs = _without_device(rest, kwargs)
    if target.type != "cpu":  # to the accelerator
        if is_simulated(self):
            # Its C++ device is "meta": .to(meta) changes nothing but the dtype, and returns
            # self when nothing changes, as torch does on a GPU.
            return func(self, _META, *rest, **kwargs)
        if self.device.type != "cpu":
            return func(*args, **kwargs)  # another device: torch's own error
        return to_accelerator(func(self, _CPU, *rest, **kwargs))
    if is_simulated(self):
        return func(to_host(self), _CPU, *rest, **kwargs)
    return func(*args, **kwargs)


def _target_device(rest: tuple, kwargs: dict) -> torch.device | None:
    if rest and isinstance(rest[0], torch.Tensor):  # .to(other): other's device and dtype
        return rest[0].device
    if "device" in kwargs:
        device = kwargs["device"]
    elif rest and not isinstance(rest[0], torch.dtype):
        device = rest[0]
    else:
        return None
    if device is None:
        return None
    if isinstance(device, int):
        return torch.device("cuda", device)
    return torch.device(device)


def _without_device(rest: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Drop the device from .to()'s arguments (keeping dtype, non_blocking, copy)."""
    if rest and isinstance(rest[0], torch.Tensor):
        kwargs = {**kwargs, "dtype": rest[0].dtype}
        return rest[1:], kwargs
    if "device" in kwargs:
        kwargs = {k: v for k, v in kwargs.items() if k != "device"}
        return rest, kwargs
    return rest[1:], kwargs


def _cuda(func: Any, args: tuple, kwargs: dict) -> Any:
    self = args[0]
    device = args[1] if len(args) > 1 else kwargs.get("device")
    is_accelerator(device if device is not None else DEVICE)  # refuses cuda:1
    if is_simulated(self):
        return self
    return to_accelerator(self)


def _cpu(func: Any, args: tuple, kwargs: dict) -> Any:
    self = args[0]
    if is_simulated(self):
        return to_host(self)
    return func(*args, **kwargs)


# -- host-only conversions -------------------------------------------------------------------
def _numpy(func: Any, args: tuple, kwargs: dict) -> Any:
    self = args[0]
    if not is_simulated(self):
        return func(*args, **kwargs)
    force = args[1] if len(args) > 1 else kwargs.get("force", False)
    if not force:
        raise TypeError(_NUMPY)
    return self._inner.detach().numpy(force=True).copy()


def _array(func: Any, args: tuple, kwargs: dict) -> Any:
    if is_simulated(args[0]):  # np.asarray(t) calls t.numpy()
        raise TypeError(_NUMPY)
    return func(*args, **kwargs)


def _tolist(func: Any, args: tuple, kwargs: dict) -> Any:
    self = args[0]
    return self._inner.tolist() if is_simulated(self) else func(*args, **kwargs)


def _pin_memory(func: Any, args: tuple, kwargs: dict) -> Any:
    self = args[0]
    if is_simulated(self):
        kind = self._inner.type().rsplit(".", 1)[-1]
        raise RuntimeError(_PIN.format(kind=kind))
    # Pinned host memory needs a driver; for a copy to the simulated device it changes
    # nothing, so the tensor stays as it is.
    return self


def _is_pinned(func: Any, args: tuple, kwargs: dict) -> Any:
    return False


def _get_device(func: Any, args: tuple, kwargs: dict) -> Any:
    return 0 if is_simulated(args[0]) else func(*args, **kwargs)


def _type(func: Any, args: tuple, kwargs: dict) -> Any:
    self = args[0]
    if is_simulated(self) and len(args) == 1 and not kwargs:
        return rules.conv_type_name(self)
    return func(*args, **kwargs)


def _set_data(func: Any, args: tuple, kwargs: dict) -> Any:
    self, value = args[0], args[1]
    if is_simulated(self) and is_simulated(value):
        func(*args, **kwargs)
        self._inner = value._inner
        return None
    if is_simulated(self) != is_simulated(value) and value.device.type in ("cpu", "cuda"):
        become(self, value)
        return None
    return func(*args, **kwargs)


def _compatible_for_data(func: Any, args: tuple, kwargs: dict) -> Any:
    # Module._apply asks this before `param.data = moved`: say yes between the CPU and the
    # simulated device, so that model.to(device) moves parameters in place, as on a GPU.
    a, b = args[0], args[1]
    if is_simulated(a) != is_simulated(b) and {a.device.type, b.device.type} == {"cpu", "cuda"}:
        return True
    return func(*args, **kwargs)


def become(t: torch.Tensor, data: torch.Tensor) -> None:
    """``t.data = data`` across the CPU / simulated-device boundary.

    On a GPU this swaps the data under the same tensor object, so a model's parameters stay
    the very objects its optimizer holds. Here the object must also change class (plain
    tensor <-> SimulatedTensor), so its class, attributes and C++ tensor are swapped for
    those of a fresh tensor holding ``data``; its identity, requires_grad and gradient stay.
    """
    grad = t.grad if t.is_leaf else None
    if grad is not None:
        t.grad = None
    fresh = data.detach()
    fresh = wrap(fresh._inner) if is_simulated(fresh) else fresh.clone() if fresh is data else fresh
    fresh.requires_grad_(t.requires_grad)
    attrs = {k: v for k, v in vars(t).items() if k != "_inner"}
    if is_simulated(fresh):
        attrs["_inner"] = fresh._inner
        cls: type = SimulatedTensor
        if isinstance(t, torch.nn.Parameter):
            attrs["_is_param"] = True
    else:
        cls = (
            torch.nn.Parameter
            if getattr(t, "_is_param", False) or isinstance(t, torch.nn.Parameter)
            else torch.Tensor
        )
        attrs.pop("_is_param", None)
    torch._C._swap_tensor_impl(t, fresh)
    t.__class__ = cls
    t.__dict__ = attrs
    if grad is not None:
        t.grad = to_accelerator(grad) if is_simulated(t) else to_host(grad)


# -- recurrent layers ----------------------------------------------------------------------------
def _rnn(func: Any, args: tuple, kwargs: dict) -> Any:
    if len(args) > 3 and isinstance(args[3], (list, tuple)):  # packed: (data, sizes, hx, params)
        problem = rules.rnn_problem(args[0], args[2], args[3])
    else:  # (input, hx, params, ...)
        problem = rules.rnn_problem(args[0], args[1], args[2] if len(args) > 2 else ())
    if problem is not None:
        args = kwargs = None  # type: ignore[assignment]
        raise problem
    return func(*args, **kwargs)


def _wrap_new(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out if is_simulated(out) else wrap(out)
    if isinstance(out, (list, tuple)):
        return type(out)(_wrap_new(o) for o in out)
    return out


_HANDLERS: dict[Any, Callable[[Any, tuple, dict], Any]] = {
    torch.Tensor.to: _to,
    torch.Tensor.cuda: _cuda,
    torch.Tensor.cpu: _cpu,
    torch.Tensor.numpy: _numpy,
    torch.Tensor.__array__: _array,
    torch.Tensor.tolist: _tolist,
    torch.Tensor.pin_memory: _pin_memory,
    torch.Tensor.is_pinned: _is_pinned,
    torch.Tensor.get_device: _get_device,
    torch.Tensor.type: _type,
    torch.Tensor.data.__set__: _set_data,
    torch._has_compatible_shallow_copy_type: _compatible_for_data,
    torch.gru: _rnn,
    torch.lstm: _rnn,
    torch.rnn_tanh: _rnn,
    torch.rnn_relu: _rnn,
}


# -- torch.cuda, as device-picking code sees it ----------------------------------------------
def _cuda_patches() -> dict[tuple[Any, str], Any]:
    """Replacements for the torch.cuda functions that training code calls."""

    def manual_seed(seed: int) -> None:
        # The simulated device draws from the CPU generator (see docs/accelerator.md).
        torch.default_generator.manual_seed(int(seed))

    def get_rng_state(device: Any = "cuda") -> torch.Tensor:
        return torch.get_rng_state()

    def set_rng_state(new_state: torch.Tensor, device: Any = "cuda") -> None:
        torch.set_rng_state(new_state)

    def get_device_name(device: Any = None) -> str:
        return "Simulated accelerator (computes on the CPU)"

    def not_acceptable(tensor: Any) -> bool:
        return False  # no cuDNN behind a simulated device: RNNs take torch's generic path

    cuda, acc = torch.cuda, torch.accelerator
    return {
        (cuda, "is_available"): lambda: True,
        (cuda, "device_count"): lambda: 1,
        (cuda, "current_device"): lambda: 0,
        (cuda, "set_device"): lambda device: is_accelerator(device) and None,
        (cuda, "get_device_name"): get_device_name,
        (cuda, "synchronize"): lambda device=None: None,
        (cuda, "empty_cache"): lambda: None,
        (cuda, "manual_seed"): manual_seed,
        (cuda, "manual_seed_all"): manual_seed,
        (cuda, "get_rng_state"): get_rng_state,
        (cuda, "set_rng_state"): set_rng_state,
        (cuda, "get_rng_state_all"): lambda: [torch.get_rng_state()],
        (cuda, "set_rng_state_all"): lambda states: torch.set_rng_state(states[0]),
        (cuda, "current_stream"): lambda device=None: _STREAM,
        (cuda, "default_stream"): lambda device=None: _STREAM,
        (cuda, "is_current_stream_capturing"): lambda: False,
        (acc, "current_device_index"): lambda: 0,
        (acc, "set_device_index"): lambda device: is_accelerator(device) and None,
        (acc, "current_stream"): lambda device=None: _STREAM,
        (acc, "synchronize"): lambda device=None: None,
        (torch.backends.cudnn, "is_acceptable"): not_acceptable,
    }


class _Stream:
    """The simulated device's one stream: work on it is done when the call returns."""

    device = DEVICE

    def is_capturing(self) -> bool:
        return False

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        return None

    def wait_stream(self, stream: object) -> None:
        return None

    def __repr__(self) -> str:
        return "<simulated stream on cuda:0>"


_STREAM = _Stream()


@contextlib.contextmanager
def simulated() -> Iterator[None]:
    """Make the simulated accelerator the machine's accelerator for the ``with`` block."""
    saved: list[tuple[Any, str, Any]] = []
    mode = AcceleratorMode()
    try:
        for (owner, name), replacement in _cuda_patches().items():
            # torch.backends.cudnn is a module proxy: its functions live on the real module.
            saved.append((owner, name, vars(owner).get(name, _ABSENT)))
            setattr(owner, name, replacement)
        with mode:
            yield
    finally:
        for owner, name, original in reversed(saved):
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


__all__ = ["AcceleratorMode", "SimulatedTensor", "is_accelerator", "simulated"]
