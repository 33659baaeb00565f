"""Checks of the 'devices' family: tensors on different devices meet.

The error text says that two devices met; the traceback's frames say which tensors they
were, which module was running and where the wrong one came from. The devices are read from
the tensors themselves (``t.device``), so a real GPU and a simulated one read the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from ._base import Check
from ._crash import Crash, ModuleCall, TensorRef, analyse, exception_chain

_DEVICE = r"([A-Za-z_]+(?::\d+)?)"
_TWO_DEVICES = re.compile(rf"at least two devices,?\s*{_DEVICE}\s+and\s+{_DEVICE}", re.I)
_ARGUMENT_ON = re.compile(
    rf"but got (?:argument )?'?(\w+)'? is on {_DEVICE},? different from other tensors on {_DEVICE}",
    re.I,
)
_NOT_EXPECTED = re.compile(
    rf"tensor on device {_DEVICE} is not on the expected device {_DEVICE}", re.I
)
_TYPES = re.compile(r"input type \(([\w.]+)\) and (?:weight|bias) type \(([\w.]+)\)", re.I)
_RNN = re.compile(rf"found input tensor at {_DEVICE} and parameter tensor at {_DEVICE}", re.I)
# cudnn's check names devices by index: -1 is the cpu.
_INDICES = re.compile(r"but device (-?\d+) does not equal (-?\d+)", re.I)
_NUMPY = re.compile(rf"can't convert {_DEVICE} device type tensor to numpy", re.I)
_SAME_DEVICE = re.compile(
    r"expected all tensors to be on the same device"
    r"|to have the same device as tensor"
    r"|on the same device as the indexed tensor"
    r"|expected (?:all )?(?:tensors|inputs) (?:to be )?on the same device",
    re.I,
)
_ACCELERATORS = ("cuda", "mps", "xpu", "hip", "meta", "xla", "privateuseone")

_NUMPY_FIX = (
    "call .cpu() before .numpy(): {name}.detach().cpu().numpy() (or .item() for a single "
    "number). NumPy, matplotlib and scikit-learn read host memory only."
)
_MOVE_BATCH_FIX = (
    "move the batch to the model's device inside the loop, where it is loaded: "
    "{assign} (with device = {device!r}, the device the model was moved to)."
)
_MOVE_MODEL_FIX = (
    "move the whole model once, right after building it: {model}.to(device) (before or after "
    "creating the optimizer: .to() moves the parameters in place). {detail}"
)
_UNREGISTERED_FIX = (
    "{label} is kept in a plain Python list or dict, so it is not a registered submodule and "
    "model.to(device) never moved it (nor does the optimizer see its parameters): hold it in "
    "nn.ModuleList / nn.ModuleDict instead."
)
_BUFFER_FIX = (
    "{name} is a plain tensor attribute, which model.to(device) does not move: register it in "
    "__init__ with self.register_buffer({attr!r}, tensor), or create it inside forward() with "
    "device={arg}.device."
)
_CREATED_FIX = (
    "{name} is created inside forward() on the default device (cpu): create it where the "
    "input is, e.g. torch.zeros(..., device={arg}.device), or use torch.zeros_like({arg})."
)
_ARGUMENT_FIX = (
    "{name} is passed to forward() on {device}: move it to {expected} where the caller "
    "loads it, together with the rest of the batch."
)


@dataclass(frozen=True)
class _DeviceError:
    """What the error text itself says."""

    devices: tuple[str, ...]
    argument: str | None = None
    numpy: bool = False


class DeviceChecks(Check):
    """Explain device errors: which tensor, which module, which devices, and the fix."""

    family = "devices"

    def on_exception(self, exc: BaseException) -> None:
        # torch raises RuntimeError for a device mix, TypeError for NumPy on a device.
        for err in exception_chain(exc):
            parsed = _recognise(str(err)) if isinstance(err, (RuntimeError, TypeError)) else None
            if parsed is not None:
                self._explain(analyse(err), parsed)
                return
        for err in exception_chain(exc):
            if isinstance(err, RuntimeError) and "device" in str(err).lower():
                crash = analyse(err)
                tensors = crash.evidence_tensors()
                if not crash.user_raised and len(_device_kinds(tensors)) > 1:
                    self._explain(crash, _DeviceError(tuple(t.device for t in tensors)))
                    return

    def _explain(self, crash: Crash, parsed: _DeviceError) -> None:
        if parsed.numpy:
            message, fix, evidence = _explain_numpy(crash, parsed)
        else:
            message, fix, evidence = _explain_mix(crash, parsed)
        evidence.append(("error", _first_line(crash.message)))
        if crash.location is not None:
            evidence.append(("line", crash.expression or str(crash.location)))
        self.emit(
            "device-mismatch",
            message=message,
            fix=fix,
            location=crash.location,
            evidence=evidence,
        )


# -- reading the error text ------------------------------------------------------------------
def _recognise(message: str) -> _DeviceError | None:
    m = _NUMPY.search(message)
    if m:
        return _DeviceError((m.group(1), "cpu"), numpy=True)
    m = _INDICES.search(message)
    if m:
        return _DeviceError(tuple(_index_device(int(g)) for g in m.groups()))
    m = _ARGUMENT_ON.search(message)
    if m:
        return _DeviceError((m.group(2), m.group(3)), argument=m.group(1))
    m = _TWO_DEVICES.search(message) or _NOT_EXPECTED.search(message) or _RNN.search(message)
    if m:
        return _DeviceError((m.group(1), m.group(2)))
    m = _TYPES.search(message)
    if m:
        devices = (_type_device(m.group(1)), _type_device(m.group(2)))
        # "Input type (double) and weight type (float)" is a dtype error, not ours.
        return _DeviceError(devices) if devices[0] != devices[1] else None
    if _SAME_DEVICE.search(message):
        return _DeviceError(())
    return None


def _index_device(index: int) -> str:
    return "cpu" if index < 0 else f"cuda:{index}"


def _type_device(type_name: str) -> str:
    lowered = type_name.lower()
    return next((kind for kind in _ACCELERATORS if kind in lowered), "cpu")


# -- which tensor is on the wrong device -----------------------------------------------------
def _kind(device: str) -> str:
    return device.split(":")[0]


def _same(a: str, b: str) -> bool:
    """Same device; "cuda" (from a type name) matches any "cuda:N"."""
    if _kind(a) != _kind(b):
        return False
    return ":" not in a or ":" not in b or a == b


def _device_kinds(tensors: list[TensorRef]) -> set[str]:
    return {_kind(t.device) for t in tensors if not _is_cpu_scalar(t)}


def _is_cpu_scalar(ref: TensorRef) -> bool:
    # A 0-d cpu tensor may meet any device: torch treats it as a number.
    return ref.device == "cpu" and not ref.shape


def _intended_device(crash: Crash, tensors: list[TensorRef], parsed: _DeviceError) -> str:
    """The device the computation was meant for: the accelerator, if one is in play."""
    devices = [t.device for t in tensors if not _is_cpu_scalar(t)] + list(parsed.devices)
    accelerators: list[str] = []
    for d in devices:
        if _kind(d) != "cpu" and not any(_same(d, a) for a in accelerators):
            accelerators.append(d)
    if len(accelerators) == 1:
        return accelerators[0]
    module = crash.module
    params = [p for p in module.module.parameters()] if module is not None else []
    if params:
        return str(params[0].device)
    return accelerators[0] if accelerators else (devices[0] if devices else "cpu")


def _prefer_indexed(device: str, tensors: list[TensorRef]) -> str:
    """'cuda' -> 'cuda:0' when a tensor tells the index."""
    return next((t.device for t in tensors if _same(t.device, device)), device)


def _explain_mix(crash: Crash, parsed: _DeviceError) -> tuple[str, str, list]:
    tensors = crash.evidence_tensors()
    expected = _prefer_indexed(_intended_device(crash, tensors, parsed), tensors)
    wrong = [t for t in tensors if not _same(t.device, expected) and not _is_cpu_scalar(t)]
    right = [t for t in tensors if _same(t.device, expected)]
    module = crash.module
    if not wrong:  # the frames hold no tensor on the other device: say what the text says
        devices = " and ".join(parsed.devices) or "two devices"
        where = f" in {module.label}" if module is not None else ""
        which = (
            f" {parsed.argument!r} is on {parsed.devices[0]}."
            if parsed.argument and parsed.devices
            else ""
        )
        message = (
            f"Tensors on different devices ({devices}) met{where}: every tensor of an "
            f"operation must be on one device.{which}"
        )
        return message, _MOVE_BATCH_FIX.format(assign="x = x.to(device)", device=expected), []
    culprit = wrong[0]
    other = _counterpart(culprit, right, crash)
    meets = (
        f", but {other.name} is on {other.device}"
        if other is not None
        else f", while the other tensors of the operation are on {expected}"
    )
    named = culprit.name + (other.name if other is not None else "")
    where = f" in {module.label}" if module is not None and module.label not in named else ""
    message = (
        f"{culprit.name} is on {culprit.device}{meets}{where}: all tensors of one operation "
        f"must be on the same device ({expected} here)."
    )
    evidence = [("module", module.label)] if module is not None else []
    shown = [t for t in tensors if t.shape][:4]
    evidence += [(t.name, f"{t.shape_text} on {t.device}") for t in shown]
    fix, site = _fix_for(culprit, crash, expected)
    if site is not None:
        evidence.append(site)
    return message, fix, evidence


def _counterpart(culprit: TensorRef, right: list[TensorRef], crash: Crash) -> TensorRef | None:
    """The tensor on the intended device to name beside the culprit: a weight when the
    culprit is a module's input, the culprit's fellow operand otherwise."""
    if not right:
        return None
    module = crash.module
    if module is not None:
        inputs = module.inputs
        wanted = module.own_tensors() if any(culprit.tensor is t.tensor for t in inputs) else inputs
        for w in wanted:  # in the module's order: its weight before its buffers
            for t in right:
                if t.tensor is w.tensor:
                    return t
    return right[0]


def _fix_for(culprit: TensorRef, crash: Crash, expected: str) -> tuple[str, tuple[str, str] | None]:
    """The fix, and where the batch to move came in when that was in a calling frame."""
    module = crash.module
    if module is not None and any(culprit.tensor is t.tensor for t in module.own_tensors()):
        return _fix_module_on_wrong_device(module, expected, _model_name(crash)), None
    name = crash.user_name(culprit.tensor) or ""
    if isinstance(crash.frame_self, nn.Module) and name.startswith("self."):
        return _fix_attribute(crash, name, culprit), None
    if crash.forward_of is not None and name.isidentifier() and not _from_caller(crash, culprit):
        if name in crash.forward_args:
            fix = _ARGUMENT_FIX.format(name=name, device=culprit.device, expected=expected)
        else:
            fix = _CREATED_FIX.format(name=name, arg=_first_tensor_arg(crash))
        return fix, None
    batch = _batch(crash, culprit, expected) or [("x", culprit)]
    names = [n for n, _ in batch]
    assign = ", ".join(names) + " = " + ", ".join(f"{n}.to(device)" for n in names)
    first_name, first = batch[0]
    site = crash.caller_sites.get(id(first.tensor))
    where = (f"{first_name} passed at", f"{site} ({site.function})") if site else None
    return _MOVE_BATCH_FIX.format(assign=assign, device=expected), where


def _from_caller(crash: Crash, ref: TensorRef) -> bool:
    return id(ref.tensor) in crash.caller_names


def _batch(crash: Crash, culprit: TensorRef, expected: str) -> list[tuple[str, TensorRef]]:
    """The user's names for the tensors to move: the culprit, then the failing line's other
    tensors on the wrong device, each by the name its caller gave it when it has one."""
    out: list[tuple[str, TensorRef]] = []
    for ref in (culprit, *crash.operands):
        if ref is not culprit and (_same(ref.device, expected) or _is_cpu_scalar(ref)):
            continue
        name = crash.caller_names.get(id(ref.tensor)) or crash.user_name(ref.tensor)
        if name and _is_plain_name(name) and all(name != n for n, _ in out):
            out.append((name, ref))
    return out


def _model_name(crash: Crash) -> str:
    """The user's name for the outermost module ("model", "self.net"), else "model"."""
    outer = crash.modules[0]
    name, _, kind = outer.label.rpartition(" (")
    return name if outer.path == "" and name and kind else "model"


def _fix_module_on_wrong_device(module: ModuleCall, expected: str, model: str) -> str:
    if not module.registered:
        return _UNREGISTERED_FIX.format(label=module.label)
    root = module.root
    on_expected = any(_same(str(p.device), expected) for p in root.parameters())
    detail = (
        f"Part of the model is already on {expected}: {module.label} was probably added or "
        f"replaced after model.to(device) ran; move it too, or build it before moving."
        if on_expected and root is not module.module
        else f"Its parameters are still on {_wrong_device(module, expected)}."
    )
    return _MOVE_MODEL_FIX.format(model=model, detail=detail)


def _wrong_device(module: ModuleCall, expected: str) -> str:
    for t in module.own_tensors():
        if not _same(t.device, expected):
            return t.device
    return "another device"


def _fix_attribute(crash: Crash, name: str, culprit: TensorRef) -> str:
    attr = name.split(".")[1]
    owner = crash.frame_self
    registered = isinstance(owner, nn.Module) and (
        attr in owner._parameters or attr in owner._buffers
    )
    if registered:
        return _MOVE_MODEL_FIX.format(model="model", detail=f"{name} is still on {culprit.device}.")
    return _BUFFER_FIX.format(name=name, attr=attr, arg=_first_tensor_arg(crash))


def _first_tensor_arg(crash: Crash) -> str:
    return crash.forward_args[0] if crash.forward_args else "x"


def _is_plain_name(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


# -- numpy on an accelerator -------------------------------------------------------------------
def _explain_numpy(crash: Crash, parsed: _DeviceError) -> tuple[str, str, list]:
    device = parsed.devices[0]
    on_device = [t for t in (*crash.operands, *crash.frame_tensors) if _same(t.device, device)]
    if crash.callee.endswith(".numpy") and crash.receiver:
        name = crash.receiver
    elif on_device:
        name = on_device[0].name
    else:
        name = "the tensor"
    what = f"{crash.callee}()" if crash.callee else "this line"
    message = (
        f"{what} turns {name} into a NumPy array, but {name} is on {device}: NumPy arrays "
        f"live in host (cpu) memory, so the tensor must be copied to the cpu first."
    )
    evidence = [(t.name, f"{t.shape_text} on {t.device}") for t in on_device[:4]]
    return message, _NUMPY_FIX.format(name=_strip_numpy_chain(name)), evidence


def _strip_numpy_chain(name: str) -> str:
    for suffix in (".cpu()", ".detach()"):
        while name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""


__all__ = ["DeviceChecks"]
