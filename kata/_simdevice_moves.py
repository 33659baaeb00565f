"""Moving tensors between the CPU and the simulated accelerator, the way torch does on a GPU.

``t.to(device)`` / ``.cuda()`` / ``.cpu()`` copy, and the copy is differentiable both ways;
``.to`` returns ``t`` itself when nothing changes. ``model.to(device)`` moves parameters in
place: on a GPU it assigns ``param.data``, so the parameter objects, which the optimizer
holds, stay the same; here the object must also change class, which :func:`become` does.
"""

from __future__ import annotations

from typing import Any

import torch

from ._simdevice import SimulatedTensor, is_simulated, wrap

__tracebackhide__ = True

NUMPY = (
    "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to "
    "host memory first."
)
PIN = "cannot pin '{name}' only dense CPU tensors can be pinned"
_NO_SUCH_DEVICE = (
    "CUDA error: invalid device ordinal. The simulated accelerator has one device, cuda:0; "
    "{device} was asked for."
)
_CPU = torch.device("cpu")
_META = torch.device("meta")


def check_device(device: Any) -> torch.device:
    """``device`` as a torch.device; refuses accelerator indices other than 0."""
    if isinstance(device, int):  # torch reads a bare int as a CUDA index
        device = torch.device("cuda", device)
    elif not isinstance(device, torch.device):
        device = torch.device(device)
    if device.type == "cuda" and device.index not in (None, 0):
        raise RuntimeError(_NO_SUCH_DEVICE.format(device=device))
    return device


def is_accelerator(device: Any) -> bool:
    """Does ``device`` (str, int or torch.device) name the accelerator?"""
    return device is not None and check_device(device).type == "cuda"


# -- copies ------------------------------------------------------------------------------------
class _ToAccelerator(torch.autograd.Function):
    """CPU -> accelerator; the gradient goes back to the CPU tensor."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        return wrap(t.detach().clone())

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad._inner.clone() if is_simulated(grad) else grad


class _ToHost(torch.autograd.Function):
    """Accelerator -> CPU; the gradient goes back to the accelerator."""

    @staticmethod
    def forward(ctx: Any, t: SimulatedTensor) -> torch.Tensor:
        return t._inner.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad if is_simulated(grad) else wrap(grad.clone())


def to_accelerator(t: torch.Tensor) -> torch.Tensor:
    """A copy of CPU tensor ``t`` on the accelerator."""
    if t.requires_grad and torch.is_grad_enabled():
        return _ToAccelerator.apply(t)
    return wrap(t.detach().clone())


def to_host(t: SimulatedTensor) -> torch.Tensor:
    """A copy of simulated tensor ``t`` on the CPU."""
    if t.requires_grad and torch.is_grad_enabled():
        return _ToHost.apply(t)
    return t._inner.clone()


# -- Tensor.to ---------------------------------------------------------------------------------
def tensor_to(t: torch.Tensor, args: tuple, kwargs: dict) -> torch.Tensor:
    """``t.to(*args, **kwargs)`` for a tensor on either side."""
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
    if args and isinstance(args[0], torch.Tensor):  # .to(other): other's device and dtype
        return args[0].device
    if kwargs.get("device") is not None:
        return check_device(kwargs["device"])
    if args and args[0] is not None and not isinstance(args[0], torch.dtype):
        return check_device(args[0])
    return None


def _without_device(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """.to()'s arguments without the device (dtype, non_blocking, copy stay)."""
    if args and isinstance(args[0], torch.Tensor):
        return args[1:], {**kwargs, "dtype": args[0].dtype}
    if "device" in kwargs:
        return args, {k: v for k, v in kwargs.items() if k != "device"}
    return args[1:], kwargs


def retype(t: SimulatedTensor, dtype: Any, non_blocking: bool) -> torch.Tensor:
    """``t.type(...)``: "torch.cuda.DoubleTensor" stays here, "torch.DoubleTensor" leaves."""
    if isinstance(dtype, str) and ".cuda." not in dtype:
        return to_host(t).type(dtype, non_blocking)
    if isinstance(dtype, str):
        dtype = torch.empty((), device="meta").type(dtype.replace(".cuda.", ".")).dtype
    return torch.Tensor.to(t, dtype, non_blocking)


# -- param.data = ... --------------------------------------------------------------------------
def set_data(t: torch.Tensor, value: torch.Tensor) -> None:
    """``t.data = value``; across the CPU / accelerator line, t changes device in place."""
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
    if is_simulated(a) != is_simulated(b) and {a.device.type, b.device.type} == {"cpu", "cuda"}:
        return True
    return None
