"""Installing the simulated accelerator: where plain tensors are put on it, and torch.cuda.

A ``TorchFunctionMode`` sees the torch calls made while the accelerator is active, before
torch's Python bindings would try to start CUDA. It handles the calls that put a tensor on
the accelerator or compare devices where a simulated tensor's device cannot be seen:

* any call with ``device="cuda"`` (``torch.zeros(..., device=device)``, ``torch.tensor``,
  ``torch.randn``, ``new_*``, ``*_like``): made on the CPU, the result put on the accelerator;
* ``Tensor.to`` / ``.cuda()`` of a CPU tensor, ``param.data = ...`` across devices, and the
  question ``Module._apply`` asks before it (``torch._has_compatible_shallow_copy_type``);
* ``torch.gru`` / ``lstm`` / ``rnn_*``, whose device check runs in C++.

A ``TorchDispatchMode`` (:class:`InternalFactories`) sees the aten ops below: it gives data to
the tensors torch's C++ creates from a simulated tensor's options.

What a simulated tensor itself answers (``.cpu()``, ``.numpy()``, ...) is defined on its class.
:func:`patch_torch` replaces the ``torch.cuda`` functions that device-picking code calls, for
the whole process, and returns the function that restores them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data._utils import pin_memory as _loader_pinning

from . import rules
from .device import (
    DEVICE,
    SimulatedTensor,
    become,
    check_device,
    compatible_for_data,
    is_accelerator,
    is_simulated,
    simulate,
    tensor_to,
    to_accelerator,
    wrap,
)

__all__ = ["modes", "patch_torch"]

__tracebackhide__ = True

_CPU = torch.device("cpu")
_ABSENT = object()
_ASKED = threading.local()  # .meta: the user's code asked for a meta tensor


class AcceleratorMode(TorchFunctionMode):
    """Routes the placement of plain tensors to the simulated accelerator."""

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
            return _on_accelerator(func(*args, **{**kwargs, "device": _CPU}))
        if device is not None and torch.device(device).type == "meta":
            _ASKED.meta = True  # the user's own meta tensor: InternalFactories lets it be
            try:
                return func(*args, **kwargs)
            finally:
                _ASKED.meta = False
        return func(*args, **kwargs)


class InternalFactories(TorchDispatchMode):
    """Tensors that torch's C++ makes "like" a simulated tensor, from its options.

    Backward formulas make zeros for missing gradients (after unbind, split, where) with
    ``grad.options()``, whose device is a simulated tensor's internal "meta": made here on the
    CPU and put on the accelerator, they hold real zeros instead of no data at all.
    """

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        __tracebackhide__ = True
        kwargs = kwargs or {}
        if SimulatedTensor in types:
            return simulate(func, args, kwargs)
        device = kwargs.get("device")
        if device is not None and device.type == "meta" and not getattr(_ASKED, "meta", False):
            return wrap(func(*args, **{**kwargs, "device": _CPU}))
        return func(*args, **kwargs)


# -- handlers: (func, args, kwargs) -> result. A simulated ``self`` has already been handled by
# its own class when these see it, so they pass it straight on.
def _to(func: Any, args: tuple, kwargs: dict) -> Any:
    if is_simulated(args[0]):
        return func(*args, **kwargs)
    return tensor_to(args[0], args[1:], kwargs)


def _cuda(func: Any, args: tuple, kwargs: dict) -> Any:
    if is_simulated(args[0]):
        return func(*args, **kwargs)
    device = args[1] if len(args) > 1 else kwargs.get("device")
    check_device(DEVICE if device is None else device)
    return to_accelerator(args[0])


def _new_tensor(func: Any, args: tuple, kwargs: dict) -> Any:
    # new_tensor builds its result in C++ from self's options, whose device is "meta".
    if is_simulated(args[0]) and kwargs.get("device") is None:
        kwargs = {"dtype": args[0].dtype, **kwargs, "device": _CPU}
        return _on_accelerator(func(*args, **kwargs))
    return func(*args, **kwargs)


def _pin_memory(func: Any, args: tuple, kwargs: dict) -> Any:
    if is_simulated(args[0]):
        return func(*args, **kwargs)
    # Pinned memory speeds up copies to a real GPU and needs its driver; for the simulated
    # one it changes nothing, so the tensor stays as it is (DataLoader(pin_memory=True)).
    return args[0]


def _set_data(func: Any, args: tuple, kwargs: dict) -> Any:
    self, value = args[0], args[1]
    if not is_simulated(self) and is_simulated(value):
        become(self, value)
        return None
    return func(*args, **kwargs)


def _compatible_for_data(func: Any, args: tuple, kwargs: dict) -> Any:
    answer = compatible_for_data(args[0], args[1])
    return func(*args, **kwargs) if answer is None else answer


def _rnn(func: Any, args: tuple, kwargs: dict) -> Any:
    if len(args) > 3 and isinstance(args[3], (list, tuple)):  # packed: data, sizes, hx, params
        problem = rules.rnn_problem(args[0], args[2], args[3])
    else:  # input, hx, params, ...
        problem = rules.rnn_problem(args[0], args[1], args[2] if len(args) > 2 else ())
    if problem is not None:
        args = kwargs = None  # type: ignore[assignment]  # no operands in the traceback
        raise problem
    return func(*args, **kwargs)


def _on_accelerator(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        if is_simulated(out):
            return out
        if out.requires_grad and not out.is_leaf:
            return to_accelerator(out)
        return wrap(out.detach(), requires_grad=out.requires_grad)  # requires_grad=True leaves
    if isinstance(out, (list, tuple)):
        return type(out)(_on_accelerator(o) for o in out)
    return out


_HANDLERS: dict[Any, Callable[[Any, tuple, dict], Any]] = {
    torch.Tensor.to: _to,
    torch.Tensor.cuda: _cuda,
    torch.Tensor.new_tensor: _new_tensor,
    torch.Tensor.pin_memory: _pin_memory,
    torch.Tensor.data.__set__: _set_data,  # type: ignore[attr-defined]
    torch._has_compatible_shallow_copy_type: _compatible_for_data,
    torch.gru: _rnn,
    torch.lstm: _rnn,
    torch.rnn_tanh: _rnn,
    torch.rnn_relu: _rnn,
}


# -- torch.cuda, as device-picking code sees it ----------------------------------------------
class _Stream:
    """The simulated device's one stream: its work is done when each call returns."""

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


def _seed(seed: int) -> None:
    # The simulated device draws its random numbers from the CPU generator.
    torch.default_generator.manual_seed(int(seed))


def _set_device(device: Any) -> None:
    check_device(device)


def _patches() -> dict[tuple[Any, str], Any]:
    """The torch.cuda (and torch.accelerator) functions that training code calls."""
    cuda, acc = torch.cuda, torch.accelerator
    return {
        (cuda, "is_available"): lambda: True,
        (cuda, "device_count"): lambda: 1,
        (cuda, "current_device"): lambda: 0,
        (cuda, "set_device"): _set_device,
        (cuda, "get_device_name"): lambda device=None: "Simulated accelerator (on the CPU)",
        (cuda, "synchronize"): lambda device=None: None,
        (cuda, "empty_cache"): lambda: None,
        (cuda, "manual_seed"): _seed,
        (cuda, "manual_seed_all"): _seed,
        (cuda, "get_rng_state"): lambda device="cuda": torch.get_rng_state(),
        (cuda, "set_rng_state"): lambda new_state, device="cuda": torch.set_rng_state(new_state),
        (cuda, "get_rng_state_all"): lambda: [torch.get_rng_state()],
        (cuda, "set_rng_state_all"): lambda states: torch.set_rng_state(states[0]),
        (cuda, "current_stream"): lambda device=None: _STREAM,
        (cuda, "default_stream"): lambda device=None: _STREAM,
        (cuda, "is_current_stream_capturing"): lambda: False,
        (acc, "current_device_index"): lambda: 0,
        (acc, "set_device_index"): _set_device,
        (acc, "current_stream"): lambda device=None: _STREAM,
        (acc, "synchronize"): lambda device=None: None,
        # No cuDNN behind the simulated device: recurrent layers take torch's generic path.
        (torch.backends.cudnn, "is_acceptable"): lambda tensor: False,
        # DataLoader(pin_memory=True) pins batches, in a thread of its own with workers; pinned
        # memory needs a driver and changes nothing for the simulated device.
        (_loader_pinning, "pin_memory"): lambda data, device=None: data,
    }


def patch_torch() -> Callable[[], None]:
    """Install the process-wide replacements above; returns the function that undoes them."""
    saved: list[tuple[Any, str, Any]] = []

    def undo() -> None:
        while saved:
            owner, name, original = saved.pop()
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

    try:
        for (owner, name), replacement in _patches().items():
            # torch.backends.cudnn is a module proxy: its functions live on the real module.
            saved.append((owner, name, vars(owner).get(name, _ABSENT)))
            setattr(owner, name, replacement)
    except BaseException:
        undo()
        raise
    return undo


@contextlib.contextmanager
def modes() -> Iterator[None]:
    """The simulated accelerator's torch modes, for the calling thread (modes are per thread)."""
    with AcceleratorMode(), InternalFactories():
        yield
