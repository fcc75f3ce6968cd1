"""Named hook points: one mechanism to record, ablate and patch any node location.

Every location the model exposes (`0.attn.q`, `0.mlp.post_act`, `final_resid`, ...) passes its
tensor through a `HookPoint`. A hook is a function `fn(tensor, name) -> tensor | None`: return
None to only read, or a tensor of the same shape to replace the activation downstream.
Hooks are installed per call (`model.hooks(...)`), never globally.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn

HookFn = Callable[[torch.Tensor, str], "torch.Tensor | None"]


class HookRegistry:
    """The hooks active on one model, shared by all of its hook points."""

    def __init__(self):
        self.active: dict[str, list[HookFn]] = {}

    @contextlib.contextmanager
    def installed(self, hooks: Mapping[str, HookFn] | Iterable[tuple[str, HookFn]], known: set[str]):
        pairs = list(hooks.items()) if isinstance(hooks, Mapping) else list(hooks)
        for name, _ in pairs:
            if name not in known:
                raise KeyError(f"no hook point named {name!r}")
        previous = self.active
        merged = {k: list(v) for k, v in previous.items()}
        for name, fn in pairs:
            merged.setdefault(name, []).append(fn)
        self.active = merged
        try:
            yield
        finally:
            self.active = previous


class HookPoint(nn.Module):
    """Identity, unless a hook is installed for this point's name."""

    def __init__(self, registry: HookRegistry):
        super().__init__()
        self.name = ""          # filled in by the model once the module tree is built
        self._registry = registry

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fns = self._registry.active.get(self.name)
        if fns:
            for fn in fns:
                out = fn(x, self.name)
                if out is not None:
                    if out.shape != x.shape:
                        raise ValueError(f"hook on {self.name} returned shape {tuple(out.shape)}, "
                                         f"expected {tuple(x.shape)}")
                    x = out
        return x


def split_node_name(node: str) -> tuple[str, int]:
    """`0.mlp.post_act.2790` -> (`0.mlp.post_act`, 2790)."""
    location, _, index = node.rpartition(".")
    if not location or not index.isdigit():
        raise ValueError(f"{node!r} is not a node name like '0.mlp.post_act.12'")
    return location, int(index)
