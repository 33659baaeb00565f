"""Which tensors may meet on a GPU, and torch's own words when they may not.

On a real GPU, torch rejects an operation that mixes devices in one of a few places, each
with its own wording (all from torch's C++ sources):

* TensorIterator ops (pointwise math, comparisons, most losses): "Expected all tensors to be
  on the same device, but found at least two devices, cuda:0 and cpu!". One 0-dim CPU tensor
  (a Python number turned into a tensor) may join a CUDA kernel.
* every other op with a CUDA kernel: a check that torchgen writes into the kernel's wrapper,
  naming the argument and the wrapper: "Expected all tensors to be on the same device, but
  got mat1 is on cpu, different from other tensors on cuda:0 (when checking argument in
  method wrapper_CUDA_addmm)".
* convolutions: "Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor)
  should be the same ...".
* recurrent layers: "Input and hidden tensors are not at the same device, found input tensor
  at cuda:0 and hidden tensor at cpu".

Which ops skip the wrapper check, and how torchgen names the wrappers, is read from the
``native_functions.yaml`` that ships with torch (in ``torchgen``), so the words follow the
installed torch. Devices are read the way user code reads them, ``t.device``.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import torch

__all__ = ["RUN_COMPOSITE", "device_problem", "legacy_type_name", "op_name", "rnn_problem"]

__tracebackhide__ = True

RUN_COMPOSITE = object()  # the op is built from others: let those check

_ITERATOR_MIX = (
    "Expected all tensors to be on the same device, but found at least two devices, "
    "{common} and {other}!"
)
_WRAPPER_MIX = (
    "Expected all tensors to be on the same device, but got {arg} is on {device}, different "
    "from other tensors on {common} (when checking argument in method {method})"
)
_TOO_MANY_SCALARS = "Trying to pass too many CPU scalars to non-CPU kernel!"
_CONV_TYPES = "Input type ({input}) and {what} type ({other}) should be the same"
_CONV_MKLDNN = " or input should be a MKLDNN tensor and {what} is a dense tensor"
_INDICES = "indices should be either on cpu or on the same device as the indexed tensor ({device})"
_RNN_MIX = (
    "Input and {name} tensors are not at the same device, found input tensor at {input} and "
    "{name} tensor at {other}"
)
_META_LEAK = (
    "the simulated accelerator met a tensor without data on the 'meta' device in {op}: torch "
    "created it from the simulated tensor's internal device. This operation is not supported "
    "on the simulated accelerator; run it on a real GPU or on the CPU."
)

_aten = torch.ops.aten
# Copies move data between devices; that is their job.
_MOVES = frozenset(
    {
        _aten.copy_.default,
        _aten._to_copy.default,
        _aten._copy_from.default,
        _aten._copy_from_and_resize.default,
        _aten.lift_fresh.default,
    }
)
_INDEXING = frozenset(
    {
        _aten.index.Tensor,
        _aten.index_put.default,
        _aten.index_put_.default,
        _aten._index_put_impl_.default,
        _aten._unsafe_index.Tensor,
    }
)
_CONVOLUTIONS = frozenset({_aten.convolution.default, _aten._convolution.default})
_CPU = torch.device("cpu")


def device_problem(func: Any, args: tuple, kwargs: dict) -> Any:
    """None if a GPU would run ``func`` on these operands; else the exception it would raise,
    or ``RUN_COMPOSITE`` when torch builds the op from others that do the checking."""
    if func in _MOVES:
        return None
    operands = _operands(func, args, kwargs)
    devices = {t.device for _, t, _ in operands}
    if len(devices) < 2:
        return None
    if any(d.type == "meta" for d in devices):
        return RuntimeError(_META_LEAK.format(op=op_name(func)))
    if func in _INDEXING:
        return _indexing(operands)
    if func in _CONVOLUTIONS:
        return _convolution(args, kwargs)
    has_cuda_kernel = func.has_kernel_for_dispatch_key(torch._C.DispatchKey.CUDA)
    if not has_cuda_kernel and func.has_kernel_for_dispatch_key(
        torch._C.DispatchKey.CompositeExplicitAutograd
    ):
        return RUN_COMPOSITE
    info = _native_info(func)
    if info is None:  # an op torch's yaml does not list: judge by its tags
        checked = torch.Tag.pointwise not in func.tags
        structured = False
    else:
        checked, structured = info
    if not checked:
        return _tensor_iterator(operands)
    return _wrapper_check(func, operands, structured)


def rnn_problem(input: Any, hidden: Any, params: Any) -> Exception | None:
    """What ``torch.gru`` / ``lstm`` / ``rnn_*`` raise when their tensors are split."""
    if not isinstance(input, torch.Tensor):
        return None
    hiddens = list(hidden) if isinstance(hidden, (list, tuple)) else [hidden]
    for name, group in (("hidden", hiddens), ("parameter", list(params or ()))):
        for t in group:
            if isinstance(t, torch.Tensor) and t.device != input.device:
                return RuntimeError(_RNN_MIX.format(name=name, input=input.device, other=t.device))
    return None


def legacy_type_name(t: torch.Tensor) -> str:
    """torch's legacy type name, as ``Tensor.type()`` gives it: ``torch.cuda.FloatTensor``."""
    plain = torch.empty((), dtype=t.dtype).type()  # "torch.FloatTensor"
    if t.device.type == "cpu":
        return plain
    return plain.replace("torch.", f"torch.{t.device.type}.", 1)


# -- the checks, by kind --------------------------------------------------------------------
def _tensor_iterator(operands: list[tuple[str, torch.Tensor, bool]]) -> Exception | None:
    common = next((t.device for _, t, _ in operands if t.device.type != "cpu"), _CPU)
    scalars = 0
    for _, t, is_output in operands:
        if common.type != "cpu" and not is_output and t.dim() == 0 and t.device.type == "cpu":
            scalars += 1
            if scalars > 1:
                return RuntimeError(_TOO_MANY_SCALARS)
            continue
        if t.device != common:
            return RuntimeError(_ITERATOR_MIX.format(common=common, other=t.device))
    return None


def _wrapper_check(func: Any, operands: list, structured: bool) -> Exception | None:
    common = None
    for name, t, _ in operands:
        if common is None:
            common = t.device
        elif t.device != common:
            return RuntimeError(
                _WRAPPER_MIX.format(
                    arg=name, device=t.device, common=common, method=_wrapper_name(func, structured)
                )
            )
    return None


def _indexing(operands: list) -> Exception | None:
    base = operands[0][1]
    for name, t, _ in operands[1:]:
        if name == "indices":
            if t.device.type != "cpu" and t.device != base.device:
                return RuntimeError(_INDICES.format(device=base.device))
        elif t.device != base.device and not (t.dim() == 0 and t.device.type == "cpu"):
            return RuntimeError(_ITERATOR_MIX.format(common=_gpu_of(operands), other=_CPU))
    return None


def _convolution(args: tuple, kwargs: dict) -> Exception | None:
    input, weight = args[0], args[1]
    bias = args[2] if len(args) > 2 else kwargs.get("bias")
    mkldnn = input.device.type == "cpu" and _would_use_mkldnn(input, weight, args)
    for what, other in (("weight", weight), ("bias", bias)):
        if other is None or other.device == input.device:
            continue
        text = _CONV_TYPES.format(
            input=legacy_type_name(input), what=what, other=legacy_type_name(other)
        )
        if mkldnn:
            text += _CONV_MKLDNN.format(what=what)
        return RuntimeError(text)
    return None


def _would_use_mkldnn(input: torch.Tensor, weight: torch.Tensor, args: tuple) -> bool:
    """torch's ConvParams::use_mkldnn for a float CPU input (which message a CPU input gets)."""
    if not (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled):
        return False
    if input.dtype != torch.float32 or input.dim() != 4 or weight.dim() != 4:
        return False
    stride, dilation = _pairs(args, 3), _pairs(args, 5)
    groups = args[8] if len(args) > 8 else 1
    n, kh, kw = input.shape[0], weight.shape[-2], weight.shape[-1]
    worth_it = (
        any(s != 1 for s in stride)
        or any(d != 1 for d in dilation)
        or n >= 16
        or kh != 1
        or kw != 1
        or torch.get_num_threads() > 1
    )
    big_enough = groups > 1 or (kh > 3 and kw > 3) or n > 1 or input.numel() > 20480
    return worth_it and big_enough


def _pairs(args: tuple, index: int) -> tuple[int, ...]:
    value = args[index] if len(args) > index else (1,)
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


# -- reading the op ----------------------------------------------------------------------------
def _operands(func: Any, args: tuple, kwargs: dict) -> list[tuple[str, torch.Tensor, bool]]:
    """The tensors in the order torch checks them: outputs (out=, in-place self) first, then
    the positional arguments; each as (argument name, tensor, is an output)."""
    schema = func._schema
    outputs: list[tuple[str, torch.Tensor, bool]] = []
    inputs: list[tuple[str, torch.Tensor, bool]] = []
    for i, arg in enumerate(schema.arguments):
        value = kwargs.get(arg.name) if arg.kwarg_only or i >= len(args) else args[i]
        written = arg.alias_info is not None and arg.alias_info.is_write
        tensors = value if isinstance(value, (list, tuple)) else (value,)
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                continue
            if written:
                outputs.append((arg.name, t, True))
                if not arg.kwarg_only:  # in-place: self is read too
                    inputs.append((arg.name, t, False))
            elif not arg.kwarg_only:
                inputs.append((arg.name, t, False))
    return outputs + inputs


def _gpu_of(operands: list) -> torch.device:
    return next(t.device for _, t, _ in operands if t.device.type != "cpu")


def _wrapper_name(func: Any, structured: bool) -> str:
    """The name torchgen gives the CUDA kernel's wrapper (register_dispatch_key.py)."""
    schema = func._schema
    base = schema.name.split("::")[1]
    overload = "" if func._overloadname == "default" else func._overloadname
    is_out = any(
        a.kwarg_only and a.alias_info is not None and a.alias_info.is_write
        for a in schema.arguments
    )
    if structured:  # NativeSignature: name[_out][_overload]
        name = base + ("_out" if is_out else "") + (f"_{overload}" if overload else "")
        return f"wrapper_CUDA_{name}"
    return f"wrapper_CUDA_{overload}_{base}" + ("_out" if is_out else "")


def op_name(func: Any) -> str:
    """``aten.addmm``, or ``aten.add.Tensor`` when the overload matters."""
    ns, name = func._schema.name.split("::")
    return (
        f"{ns}.{name}" if func._overloadname == "default" else f"{ns}.{name}.{func._overloadname}"
    )


def _native_info(func: Any) -> tuple[bool, bool] | None:
    """(has torchgen's device check, is structured) for an aten op, from torch's yaml."""
    if func.namespace != "aten":
        return None
    table = _native_functions()
    name = func._schema.name.split("::")[1]
    key = name if func._overloadname == "default" else f"{name}.{func._overloadname}"
    return table.get(key)


@functools.cache
def _native_functions() -> dict[str, tuple[bool, bool]]:
    path = _yaml_path()
    if path is None:
        return {}
    table: dict[str, tuple[bool, bool]] = {}
    key: str | None = None
    checked = True
    structured = False

    def close() -> None:
        if key is not None:
            table[key] = (checked, structured)

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("- func:"):
            close()
            key = line[len("- func:") :].strip().split("(", 1)[0]
            checked, structured = True, False
        elif line.startswith("  device_check:") and "NoCheck" in line:
            checked = False
        elif line.startswith(("  structured_delegate:", "  structured: True")):
            structured = True
    close()
    return table


def _yaml_path() -> Path | None:
    spec = importlib.util.find_spec("torchgen")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)))
    path = path / "packaged" / "ATen" / "native" / "native_functions.yaml"
    return path if path.is_file() else None
