"""Named hook points: one mechanism to record, ablate and patch any node location.

Every location the model exposes (`0.attn.q`, `0.mlp.post_act`, `final_resid`, ...) passes its
tensor through a `HookPoint`. A hook is a function `fn(tensor, name) -> tensor | None`: return
None to only read, or a tensor of the same shape to replace the activation downstream.

Two more kinds of hook serve edge ablation: on a linear layer (`0.mlp.c_fc`),
`fn(output, name, input) -> output | None` sees the layer's input too; on a norm (`1.ln_1`),
`fn(input, name) -> input | None` changes what the norm reads without touching the residual.

Hooks are installed per call and per thread (`with model.hooks(...)`), in a context variable,
never on the model: a worker thread running the same model object sees none of the GUI
thread's hooks, and the other way round, so background jobs need no copy of the model.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn

HookFn = Callable[..., "torch.Tensor | None"]

# {registry: {name: [fn, ...]}} for the hooks installed in the current context (thread).
_ACTIVE: contextvars.ContextVar[dict] = contextvars.ContextVar("sparse_circuits_hooks", default={})  # noqa: B039 (never mutated: replaced)


class HookRegistry:
    """The hook names of one model; the installed hooks live in the calling context."""

    def __init__(self):
        self.names: set[str] = set()

    def hooks_for(self, name: str) -> list[HookFn]:
        return _ACTIVE.get().get(self, {}).get(name, ())

    @contextlib.contextmanager
    def installed(self, hooks: Mapping[str, HookFn] | Iterable[tuple[str, HookFn]]):
        pairs = list(hooks.items()) if isinstance(hooks, Mapping) else list(hooks)
        for name, _ in pairs:
            if name not in self.names:
                raise KeyError(f"no hook point named {name!r}")
        active = _ACTIVE.get()
        merged = {k: list(v) for k, v in active.get(self, {}).items()}
        for name, fn in pairs:
            merged.setdefault(name, []).append(fn)
        token = _ACTIVE.set({**active, self: merged})
        try:
            yield
        finally:
            _ACTIVE.reset(token)

    def __deepcopy__(self, memo):
        copy = HookRegistry()
        copy.names = set(self.names)
        return copy


def _apply(fns, name: str, x: torch.Tensor, *extra) -> torch.Tensor:
    for fn in fns:
        out = fn(x, name, *extra)
        if out is not None:
            if out.shape != x.shape:
                raise ValueError(
                    f"hook on {name} returned shape {tuple(out.shape)}, expected {tuple(x.shape)}"
                )
            x = out
    return x


class HookPoint(nn.Module):
    """Identity, unless a hook is installed for this point's name."""

    def __init__(self, registry: HookRegistry):
        super().__init__()
        self.name = ""  # filled in by the model once the module tree is built
        self._registry = registry

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fns = self._registry.hooks_for(self.name)
        return _apply(fns, self.name, x) if fns else x


class LinearHook:
    """A forward hook on a linear layer that hands its output and input to installed hooks."""

    def __init__(self, registry: HookRegistry, name: str):
        self.registry, self.name = registry, name
        registry.names.add(name)

    def __call__(self, module, args, out):
        fns = self.registry.hooks_for(self.name)
        return _apply(fns, self.name, out, args[0]) if fns else None


class NormInputHook:
    """A forward pre-hook on a norm that lets installed hooks change what it reads."""

    def __init__(self, registry: HookRegistry, name: str):
        self.registry, self.name = registry, name
        registry.names.add(name)

    def __call__(self, module, args):
        fns = self.registry.hooks_for(self.name)
        return (_apply(fns, self.name, args[0]),) if fns else None
