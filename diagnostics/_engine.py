"""The hook engine: one set of global hooks and patches, shared by every active watch.

The hooks are installed when the first watch starts and removed when the last one ends, so
nothing is patched outside a watch. The engine knows no family of checks: each watch (a
:class:`Subscriber`, see diagnostics/_watch.py) hands it the handlers of its own checks per
event, and the events fan out to them, prebuilt per event so that an event no check listens
to costs one empty loop.
"""

from __future__ import annotations

import collections
import functools
import threading
import types
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.amp import GradScaler as _GradScaler
from torch.nn.utils import clip_grad as _clip_mod
from torch.optim import optimizer as _optim_mod
from torch.utils.data import DataLoader as _DataLoader

from ._checks._base import CallRecord, Check, unreal
from ._patching import (
    in_transform,
    involves_unreal,
    scheduler_classes,
    scriptable,
    unreal_arg,
    unreal_optimizer,
    warn_past,
)
from ._routes import NO_ROUTE, Route, Subscriber

_LOSSES = (
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "soft_margin_loss",
)
_DROPOUTS = (
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
)

_CLIPS = ("clip_grad_norm_", "clip_grad_value_")

# Every wrapper steps aside while torch compiles: the cheapest test that dynamo folds to True
# while it traces, then the flag of torch.export and AOT tracing (is_compiling() costs one
# more Python call, torch.jit.is_scripting()). Older torch has only is_compiling().
_is_dynamo_compiling = getattr(torch.compiler, "is_dynamo_compiling", torch.compiler.is_compiling)
_compiler_flags: Any = (
    torch.compiler
    if hasattr(torch.compiler, "_is_compiling_flag")
    else types.SimpleNamespace(_is_compiling_flag=False)
)
_get_ident = threading.get_ident
_ref, _Tensor = weakref.ref, torch.Tensor
_grad_enabled = torch.is_grad_enabled


class _ThreadState:
    """What one thread sees: the modules whose forward is running, the route of its own
    watches' events, and its re-entry depths.

    One object per thread, reached with a single thread-local read on the hottest path (a
    module call). A thread that never ran a watch reads the class attributes: ``route`` is
    then the one of the only thread that watches (a script's worker threads, the autograd
    threads of a backward on an accelerator), or no route at all when several threads watch
    at once.
    """

    route: Route = NO_ROUTE
    fn_depth = 0
    sched_depth = 0

    def __init__(self) -> None:
        self.stack: list[nn.Module] = []  # the modules whose forward is running, root first


class _PerThread(threading.local):
    def __init__(self) -> None:  # runs once in every thread that uses it
        self.state = _ThreadState()


class _Dispatcher:
    """Owns the global hooks; routes each event to the handlers of its thread's watches."""

    def __init__(self) -> None:
        self.watches: list[Subscriber] = []
        self._routes: dict[int, Route] = {}
        self._local = _PerThread()
        self._undo: list[Callable[[], None]] = []
        self._lock = threading.RLock()
        self._in_backward: dict[int, int] = {}  # watching threads inside backward(), and depth
        self._several = False  # more than one thread watches

    def module_stack(self) -> list[nn.Module]:
        """The modules whose forward is running in the calling thread, outermost first."""
        return self._local.state.stack

    # -- lifecycle -------------------------------------------------------------------------
    def add(self, watch: Subscriber) -> None:
        with self._lock:
            if not self.watches:
                self._install()
            self.watches.append(watch)
            route = self._routes.setdefault(watch.thread, Route())
            if watch.thread == _get_ident():
                self._local.state.route = route
            self._rebuild()

    def remove(self, watch: Subscriber) -> None:
        with self._lock:
            if watch in self.watches:
                self.watches.remove(watch)
            self._rebuild()
            if watch.thread not in self._routes and watch.thread == _get_ident():
                # A thread that ran a watch of its own is never attributed to another's.
                self._local.state.route = NO_ROUTE
            if not self.watches:
                self._uninstall()

    def remove_all(self) -> list[Subscriber]:
        """Forget every watch (a forked child's copies of its parent's); return them."""
        with self._lock:
            gone = list(self.watches)
            for watch in gone:
                self.remove(watch)
            return gone

    def rebuild(self) -> None:
        """Recompute the routes of events (after a check was switched off)."""
        with self._lock:
            self._rebuild()

    def _rebuild(self) -> None:
        for ident in {w.thread for w in self.watches}:
            self._routes.setdefault(ident, Route())
        for ident, route in list(self._routes.items()):
            mine = [w for w in self.watches if w.thread == ident]
            route.update(mine)  # in place: a thread holds on to its route between events
            if not mine:
                del self._routes[ident]
        self._several = len(self._routes) > 1
        self._refresh_unowned()

    def _refresh_unowned(self) -> None:
        """Point the threads that run no watch at the one watching thread they can serve."""
        if len(self._routes) == 1:
            route = next(iter(self._routes.values()))
        else:
            # Several threads watch: only the autograd work of a backward() is attributed,
            # when exactly one watching thread is inside backward().
            busy = [i for i, depth in self._in_backward.items() if depth and i in self._routes]
            route = self._routes[busy[0]] if len(busy) == 1 else NO_ROUTE
        _ThreadState.route = route

    def _emit(self, handlers: tuple[Callable[..., Any], ...], event: str, *args: Any) -> None:
        for handler in handlers:
            try:
                handler(*args)
            except Exception as exc:  # a check must never break the user's run
                self._failed(handler, event, exc, args)

    def _failed(self, handler: Any, event: str, exc: Exception, args: tuple[Any, ...]) -> None:
        """Switch the failing check off for its watch, and say so in that watch's report."""
        if involves_unreal(args):
            return  # meta or fake tensors have no values to check: not the check's fault
        check: Check = handler.__self__
        check.watch.check_failed(check, event, exc)

    # -- installation ------------------------------------------------------------------------
    def _install(self) -> None:
        local, failed = self._local, self._failed
        dynamo, flags = _is_dynamo_compiling, _compiler_flags

        # Inside torch.compile's tracing the hooks return at once: dynamo folds
        # is_dynamo_compiling() to True, so nothing of the engine enters the compiled graph.
        # The latest optimizer found to hold real tensors (not meta or fake ones), weakly.
        last_real: list[Callable[[], Any]] = [lambda: None]

        def step_pre(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            if dynamo() or flags._is_compiling_flag:
                return
            handlers = local.state.route.on_step_pre
            if not handlers:
                return
            if last_real[0]() is not opt:  # the optimizer's parameters are read once
                if unreal_optimizer(opt):
                    return
                last_real[0] = _ref(opt)
            for handler in handlers:  # in line: a step is on the hot path
                try:
                    handler(opt)
                except Exception as exc:  # a check must never break the user's run
                    failed(handler, "on_step_pre", exc, (opt,))

        def step_post(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            if dynamo() or flags._is_compiling_flag:
                return
            route = local.state.route
            if not route.clocks:
                return
            if last_real[0]() is not opt:
                if unreal_optimizer(opt):
                    return
                last_real[0] = _ref(opt)
            for clock in route.clocks:  # before the handlers: they read the step as done
                clock.stepped(opt)
            for handler in route.on_step_post:
                try:
                    handler(opt)
                except Exception as exc:  # a check must never break the user's run
                    failed(handler, "on_step_post", exc, (opt,))

        handles = [
            _optim_mod.register_optimizer_step_pre_hook(step_pre),
            _optim_mod.register_optimizer_step_post_hook(step_post),
        ]
        self._undo.extend(h.remove for h in handles)
        # Module calls are seen through Module.__call__ rather than global module hooks: a
        # global hook sends every module call in the process down torch's slow path.
        self._patch(nn.Module, "__call__", self._wrap_call)
        self._patch(torch.autograd, "backward", self._wrap_backward)
        for name in _LOSSES:
            self._patch(F, name, functools.partial(self._wrap_loss, name))
        for name in _DROPOUTS:
            self._patch(F, name, functools.partial(self._wrap_dropout, name))
        self._patch(F, "batch_norm", self._wrap_batch_norm)
        self._patch(nn.Module, "state_dict", self._wrap_state_dict)
        self._patch(nn.Module, "load_state_dict", self._wrap_load_state_dict)
        self._patch(torch, "save", self._wrap_save)
        for name in _CLIPS:
            for owner in (torch.nn.utils, _clip_mod):
                self._patch(owner, name, functools.partial(self._wrap_clip, name))
        self._patch(_GradScaler, "scale", self._wrap_grad_scale)
        self._patch(_GradScaler, "unscale_", self._wrap_unscale)
        self._patch(_DataLoader, "__iter__", self._wrap_loader_iter)
        for cls in scheduler_classes():
            self._patch(cls, "step", self._wrap_scheduler_step)
        self._patch(warnings, "warn", functools.partial(warn_past, engine_file=_ENGINE_FILE))

    def _uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        wrapper = scriptable(make(original), original)
        wrapper.__wrapped_by_diagnostics__ = True

        def undo() -> None:
            # Restore only what is still ours: a patch the user made meanwhile stays.
            current = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name)
            if current is wrapper:
                setattr(owner, name, original)

        setattr(owner, name, wrapper)
        self._undo.append(undo)

    # -- wrappers (each calls the original exactly once, with the same arguments) ------------
    # Outside a watch (a name imported while one was active) a wrapper only forwards to the
    # original. The wrappers read nothing but their closure, so that TorchScript, which
    # compiles the original's source in the wrapper's place, resolves the original's names.
    def _wrap_call(self, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_grad_enabled = self._local, torch.is_grad_enabled
        d_dynamo, d_compiler, d_observed = _is_dynamo_compiling, _compiler_flags, self._observed
        d_log = _log_call
        # torch's own Module.__call__ (the function itself, whatever a subclass defines) only
        # picks the compiled or the plain implementation: done here, one Python frame less on
        # every module call, unless someone else patched Module.__call__ before us.
        d_inline = original is getattr(nn.Module, "_wrapped_call_impl", None)

        # The hottest path of all (every module call). A call inside another module's forward
        # that nothing wants (no check follows such calls, or gradients are off) only keeps
        # the thread's stack of running modules, once for every check; when no check wants
        # even the outermost calls, no stack is kept at all.
        def __call__(module: nn.Module, *args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # the user's error is in forward(), not here
            if d_dynamo() or d_compiler._is_compiling_flag:
                return original(module, *args, **kwargs)
            state = d_local.state
            stack, route = state.stack, state.route
            if stack:
                if not route.inner or not d_grad_enabled():
                    stack.append(module)
                    try:
                        if d_inline and module._compiled_call_impl is None:
                            return module._call_impl(*args, **kwargs)
                        return original(module, *args, **kwargs)
                    finally:
                        stack.pop()
                # The commonest call with gradients (a layer of a training forward) is only
                # logged, here in line, without _observed's frame (a call that raises is not).
                if not route.on_module_forward:
                    stack.append(module)
                    try:
                        if d_inline and module._compiled_call_impl is None:
                            output = module._call_impl(*args, **kwargs)
                        else:
                            output = original(module, *args, **kwargs)
                    finally:
                        stack.pop()
                    d_log(route.calls, module, args, output)
                    return output
                grad = True  # a call with gradients that a check follows
            elif not route.outer:
                if d_inline and module._compiled_call_impl is None:
                    return module._call_impl(*args, **kwargs)
                return original(module, *args, **kwargs)
            else:  # an outermost call, with gradients or not
                grad = d_grad_enabled()
            return d_observed(original, d_inline, route, stack, module, args, kwargs, grad)

        return __call__

    def _observed(
        self,
        original: Callable[..., Any],
        inline: bool,
        route: Route,
        stack: list[nn.Module],
        module: nn.Module,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        grad: bool,
    ) -> Any:
        """A module call that some check follows: an outermost one (with gradients or not,
        as ``grad`` says), or one with gradients inside another's forward that a check wants
        (``on_module_forward``)."""
        __tracebackhide__ = True
        root = not stack
        if grad:
            root_pre, root_post = route.on_root_forward_pre, route.on_root_forward
        else:  # an evaluation, an action chosen: only the checks that follow such calls
            root_pre, root_post = route.no_grad_root_pre, route.no_grad_root
        if root:
            for handler in root_pre:
                try:
                    handler(module, args)
                except Exception as exc:  # a check must never break the user's run
                    self._failed(handler, "on_root_forward_pre", exc, (module, args))
        stack.append(module)
        output = None  # a check sees the forward end even when the user catches its error
        try:
            if inline and module._compiled_call_impl is None:
                output = module._call_impl(*args, **kwargs)
            else:
                output = original(module, *args, **kwargs)
        finally:
            stack.pop()
            if grad:
                if route.calls:
                    _log_call(route.calls, module, args, output)
                for handler in route.on_module_forward:
                    try:
                        handler(module, args, output)
                    except Exception as exc:  # a check must never break the user's run
                        self._failed(handler, "on_module_forward", exc, (module, args, output))
            else:  # logged as a whole forward, once for a run of them
                for log in route.calls:
                    if not log or not log[-1][4] or log[-1][0]() is not module:
                        log.append((_ref(module), None, None, False, True))
            if root:
                for handler in root_post:
                    try:
                        handler(module, args, output)
                    except Exception as exc:  # a check must never break the user's run
                        self._failed(handler, "on_root_forward", exc, (module, args, output))
        return output

    def _wrap_backward(self, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_failed, d_torch = self._local, self._failed, torch
        d_dynamo, d_flags = _is_dynamo_compiling, _compiler_flags
        d_around, d_unreal, d_unreal_one = self._around_backward, involves_unreal, unreal
        d_self, d_tensor = self, torch.Tensor

        def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            route = d_local.state.route
            handlers = route.on_backward
            if not (handlers or route.clocks) or d_dynamo() or d_flags._is_compiling_flag:
                return original(tensors, *args, **kwargs)
            if isinstance(tensors, d_torch.Tensor):
                seq: Any = (tensors,)
                real = type(tensors) is d_tensor and not tensors.is_meta
                real = real or not d_unreal_one(tensors)
            else:
                seq = tensors = tuple(tensors)  # once: a generator would be used up by the event
                real = not d_unreal(seq)
            if real:
                for clock in route.clocks:  # before the handlers: they read it as begun
                    clock.backwards += 1
                for handler in handlers:
                    try:
                        handler(seq)
                    except Exception as exc:  # a check must never break the user's run
                        d_failed(handler, "on_backward", exc, (seq,))
            if not d_self._several:
                return original(tensors, *args, **kwargs)
            return d_around(original, tensors, args, kwargs)

        return backward

    def _around_backward(
        self, original: Callable[..., Any], tensors: Any, args: Any, kwargs: Any
    ) -> Any:
        """Run backward(), noting the thread while it does (several threads watch)."""
        ident = _get_ident()
        with self._lock:
            self._in_backward[ident] = self._in_backward.get(ident, 0) + 1
            self._refresh_unowned()
        try:
            return original(tensors, *args, **kwargs)
        finally:
            with self._lock:
                self._in_backward[ident] -= 1
                if not self._in_backward[ident]:
                    del self._in_backward[ident]
                self._refresh_unowned()

    # A torch function mode (e.g. the simulated accelerator's) re-enters these functions through
    # handle_torch_function, which looks the patched name up again: count only the outer call.
    def _wrap_loss(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_emit, d_name = self._local, self._emit, name
        d_dynamo, d_flags = _is_dynamo_compiling, _compiler_flags
        dunreal_arg, d_in_transform = unreal_arg, in_transform

        def loss(input: Any, target: Any = None, *args: Any, **kwargs: Any) -> Any:
            state = d_local.state
            handlers = state.route.on_loss
            if not handlers or d_dynamo() or d_flags._is_compiling_flag:
                if target is None and not args:
                    return original(input, **kwargs)
                return original(input, target, *args, **kwargs)
            # A loss of meta or fake tensors, or one inside a torch.func transform (a per-sample
            # loss under vmap), has no values to check.
            if state.fn_depth == 0 and not (
                dunreal_arg(input) or dunreal_arg(target) or d_in_transform()
            ):
                d_emit(handlers, "on_loss", d_name, input, target, kwargs)
            state.fn_depth += 1
            try:
                if target is None and not args:
                    return original(input, **kwargs)
                return original(input, target, *args, **kwargs)
            finally:
                state.fn_depth -= 1

        return loss

    def _wrap_dropout(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        # alpha_dropout's training defaults to False, dropout's to True: read the original's.
        p_default, training_default = (original.__defaults__ or (0.5, True))[:2]
        d_local, d_emit, d_name = self._local, self._emit, name
        d_dynamo, d_flags = _is_dynamo_compiling, _compiler_flags

        def dropout(input: Any, *args: Any, **kwargs: Any) -> Any:
            state = d_local.state
            handlers = state.route.on_dropout
            if not handlers or state.fn_depth or d_dynamo() or d_flags._is_compiling_flag:
                return original(input, *args, **kwargs)
            state.fn_depth += 1
            try:
                output = original(input, *args, **kwargs)
            finally:
                state.fn_depth -= 1
            p = args[0] if args else kwargs.get("p", p_default)
            training = args[1] if len(args) > 1 else kwargs.get("training", training_default)
            d_emit(handlers, "on_dropout", d_name, input, p, training, output)
            return output

        return dropout

    def _wrap_batch_norm(self, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_emit = self._local, self._emit
        d_dynamo, d_flags = _is_dynamo_compiling, _compiler_flags

        def batch_norm(
            input: Any,
            running_mean: Any,
            running_var: Any,
            weight: Any = None,
            bias: Any = None,
            training: bool = False,
            momentum: Any = 0.1,
            eps: float = 1e-5,
        ) -> Any:
            state = d_local.state
            handlers = state.route.on_batch_norm
            if not handlers or state.fn_depth or d_dynamo() or d_flags._is_compiling_flag:
                return original(
                    input, running_mean, running_var, weight, bias, training, momentum, eps
                )
            state.fn_depth += 1
            try:
                output = original(
                    input, running_mean, running_var, weight, bias, training, momentum, eps
                )
            finally:
                state.fn_depth -= 1
            d_emit(handlers, "on_batch_norm", input, running_mean, training, momentum, output)
            return output

        return batch_norm

    def _wrap_state_dict(self, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_emit = self._local, self._emit

        def state_dict(module: nn.Module, *args: Any, **kwargs: Any) -> Any:
            result = original(module, *args, **kwargs)
            # Only the outermost call: state_dict() recurses through submodules.
            handlers = d_local.state.route.on_state_dict
            if handlers and not args and not kwargs.get("prefix"):
                d_emit(handlers, "on_state_dict", module, result)
            return result

        return state_dict

    def _wrap_load_state_dict(self, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_emit = self._local, self._emit

        def load_state_dict(module: nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
            handlers = d_local.state.route.on_load_state_dict
            if handlers:
                d_emit(handlers, "on_load_state_dict", module, state_dict)
            return original(module, state_dict, *args, **kwargs)

        return load_state_dict

    def _wrap_save(self, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_emit = self._local, self._emit

        def save(obj: Any, *args: Any, **kwargs: Any) -> Any:
            handlers = d_local.state.route.on_save
            if handlers:
                d_emit(handlers, "on_save", obj)
            return original(obj, *args, **kwargs)

        return save

    def _wrap_clip(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_emit, d_name = self._local, self._emit, name
        d_dynamo, d_flags = _is_dynamo_compiling, _compiler_flags
        d_key = "max_norm" if name == "clip_grad_norm_" else "clip_value"

        def clip(parameters: Any, *args: Any, **kwargs: Any) -> Any:
            handlers = d_local.state.route.on_clip
            if not handlers or d_dynamo() or d_flags._is_compiling_flag:
                return original(parameters, *args, **kwargs)
            # A generator is read once: the same list goes to the check and to the original.
            one = isinstance(parameters, torch.Tensor)
            parameters = [parameters] if one else list(parameters)
            threshold = args[0] if args else kwargs.get(d_key)
            d_emit(handlers, "on_clip", d_name, parameters, threshold)
            return original(parameters, *args, **kwargs)

        return clip

    def _wrap_grad_scale(self, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_emit = self._local, self._emit

        def scale(scaler: Any, outputs: Any) -> Any:
            handlers = d_local.state.route.on_grad_scale
            if handlers:
                d_emit(handlers, "on_grad_scale", scaler)
            return original(scaler, outputs)

        return scale

    def _wrap_unscale(self, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_emit = self._local, self._emit

        def unscale_(scaler: Any, optimizer: Any) -> Any:
            handlers = d_local.state.route.on_unscale
            if handlers:
                d_emit(handlers, "on_unscale", scaler, optimizer)
            return original(scaler, optimizer)

        return unscale_

    def _wrap_loader_iter(self, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_emit = self._local, self._emit

        def __iter__(loader: Any) -> Any:
            handlers = d_local.state.route.on_loader_iter
            if handlers:
                d_emit(handlers, "on_loader_iter", loader)
            return original(loader)

        return __iter__

    def _wrap_scheduler_step(self, original: Callable[..., Any]) -> Callable[..., Any]:
        d_local, d_emit = self._local, self._emit

        def step(scheduler: Any, *args: Any, **kwargs: Any) -> Any:
            state = d_local.state
            route = state.route
            if not route.on_scheduler_step_pre and not route.on_scheduler_step_post:
                return original(scheduler, *args, **kwargs)
            # Skip the step a scheduler makes while it is built, and the inner steps of
            # SequentialLR / ChainedScheduler: the user called neither.
            initial = getattr(scheduler, "_is_initial", getattr(scheduler, "_step_count", 1) == 0)
            outer = state.sched_depth == 0 and not initial
            state.sched_depth += 1
            try:
                if outer:
                    d_emit(route.on_scheduler_step_pre, "on_scheduler_step_pre", scheduler)
                result = original(scheduler, *args, **kwargs)
            finally:
                state.sched_depth -= 1
            if outer:
                d_emit(route.on_scheduler_step_post, "on_scheduler_step_post", scheduler)
            return result

        return step


_ENGINE_FILE = (lambda: None).__code__.co_filename  # as frames name this module's code


def _log_call(
    logs: tuple[collections.deque[CallRecord], ...], module: nn.Module, args: Any, output: Any
) -> None:
    """Log a module call with gradients (see CallRecord): weak references only, read back
    when a loss turns out non-finite or has no graph."""
    first = args[0] if args else None
    batch = None if not isinstance(first, _Tensor) or first.requires_grad else _ref(first)
    if not isinstance(output, _Tensor):
        listed = isinstance(output, (tuple, list)) and output
        output = output[0] if listed and isinstance(output[0], _Tensor) else None
        if output is None:
            for log in logs:
                log.append((_ref(module), batch, None, False, False))
            return
    record = (_ref(module), batch, _ref(output), output.requires_grad, False)
    for log in logs:
        log.append(record)


DISPATCHER = _Dispatcher()
