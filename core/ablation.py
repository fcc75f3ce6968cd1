"""The one way anything is taken out of a forward pass. The pruner's node masks, the checks,
`eval --circuit`, the app's interventions and the tests all go through `ablated(...)`.

- A node is replaced by its mean over the reference distribution, or by zero: at each site,
  x' = g * x + (1 - g) * r, where the gate g is 1 to keep a channel and 0 to ablate it (the
  pruner's gates are 0/1 in the forward pass and carry a gradient), r the replacement.
- A weight edge src -> dst loses its contribution: the linear layer's output row dst gets
  W[dst, src] * (r - input[src]).
- A residual edge (a write read by a later sublayer) is removed from what that reader's norm
  sees, on that channel only: the residual stream itself is untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import torch

from .sparse import entries
from .topology import Node


def _means_or_zero(means, key: str, like: torch.Tensor) -> torch.Tensor:
    if means is None:
        return torch.zeros_like(like)
    return means[key].to(like.device, like.dtype)


def gates_keeping(model, nodes: Iterable[str], keep: bool = True) -> dict[str, torch.Tensor]:
    """Gates over every node site that keep only `nodes` (keep=True) or all but them."""
    topo = model.topology
    device = next(model.parameters()).device
    fill = 0.0 if keep else 1.0
    gates = {site: torch.full((topo.width(site),), fill, device=device) for site in topo.sites}
    for name in nodes:
        node = topo.check_node(name)
        gates[node.site][node.index] = 1.0 - fill
    return gates


class _Plan:
    """The hooks one ablation installs, worked out from the request before the forward pass."""

    def __init__(self, model, gates, interventions, means, ablation: str):
        if ablation not in ("mean", "zero"):
            raise ValueError(f"ablation must be mean or zero, got {ablation!r}")
        needs_means = (gates and ablation == "mean") or any(iv.mode == "mean" for iv in interventions)
        if needs_means and means is None:
            raise ValueError("mean ablation needs the model's mean activations")
        self.model, self.means = model, means
        self.node: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.weights: dict[str, list[tuple[int, int, str]]] = {}
        self.residual: dict[str, list[tuple[str, int, str]]] = {}
        topo = model.topology
        for site, g in (gates or {}).items():
            fill = means if ablation == "mean" else None
            self.node[site] = (g, _means_or_zero(fill, site, g.detach().float()))
        for iv in interventions:
            if iv.kind == "node":
                node = topo.check_node(iv.target)
                self._ablate_node(node, iv.mode)
                continue
            src, dst = (topo.check_node(n) for n in iv.endpoints)
            wire = topo.wire(src, dst)
            if wire is not None:
                key, row, col = wire
                self.weights.setdefault(key, []).append((row, col, iv.mode))
                continue
            link = topo.residual_link(src, dst)
            if link is None:
                raise ValueError(f"{iv.target}: no weight or residual channel joins these nodes")
            writer, _, norm = link
            self.residual.setdefault(norm, []).append((writer, src.index, iv.mode))

    def _ablate_node(self, node: Node, mode: str) -> None:
        site = node.site
        if site not in self.node:
            width = self.model.topology.width(site)
            device = next(self.model.parameters()).device
            ones = torch.ones(width, device=device)
            self.node[site] = (ones, torch.zeros(width, device=device))
        g, r = self.node[site]
        keep = torch.ones_like(g)
        keep[node.index] = 0.0
        value = self.means[site][node.index].to(r.device, r.dtype) if mode == "mean" else 0.0
        r = r.clone()
        r[node.index] = value
        self.node[site] = (g * keep, r)

    def hooks(self) -> list[tuple[str, object]]:
        hooks = [(site, self._node_hook) for site in self.node]
        hooks += [(key, self._weight_hook) for key in self.weights]
        self.written: dict[tuple[str, int], torch.Tensor] = {}
        for norm, edits in self.residual.items():
            for writer, channel, _ in edits:
                hooks.append((writer, self._recorder(channel)))
            hooks.append((norm, self._residual_hook))
        return hooks

    def _node_hook(self, x, name):
        g, r = self.node[name]
        g = g.to(x.dtype)
        return g * x + (1 - g) * r.to(x.dtype)

    def _weight_hook(self, out, name, inp):
        edits = self.weights[name]
        weight = self.model.submodule(name).weight
        rows = torch.tensor([e[0] for e in edits], device=out.device)
        cols = torch.tensor([e[1] for e in edits], device=out.device)
        repl = torch.stack([self._value(f"{name}:in", c, m, inp) for _, c, m in edits])
        delta = entries(weight, rows, cols).to(out.dtype) * (repl - inp[..., cols])
        return out.index_add(-1, rows, delta)

    def _recorder(self, channel):
        def record(x, name):
            self.written[(name, channel)] = x[..., channel]

        return record

    def _residual_hook(self, x, name):
        x = x.clone()
        for writer, channel, mode in self.residual[name]:
            repl = self._value(writer, channel, mode, x)
            x[..., channel] = x[..., channel] - self.written[(writer, channel)] + repl
        return x

    def _value(self, key, index, mode, like):
        if mode == "zero":
            return torch.zeros((), dtype=like.dtype, device=like.device)
        return self.means[key][index].to(like.device, like.dtype)


@contextlib.contextmanager
def ablated(
    model,
    *,
    gates: dict[str, torch.Tensor] | None = None,
    interventions=(),
    means: dict[str, torch.Tensor] | None = None,
    ablation: str = "mean",
):
    """Run `model` with nodes gated off (`gates`, replaced by the mean or zero as `ablation`
    says) and `interventions` applied (each with its own mode), for the duration of the block,
    in this thread only."""
    plan = _Plan(model, gates, list(interventions), means, ablation)
    with model.hooks(plan.hooks()):
        yield model
