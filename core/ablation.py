"""The one way anything is taken out of a forward pass. The pruner's node masks, the checks,
`eval --circuit`, the app's interventions and the tests all go through `ablated(...)`.

- A node is replaced by its mean over the reference distribution, or by zero: at each site,
  x' = g * x + (1 - g) * r, where the gate g is 1 to keep a channel and 0 to ablate it (the
  pruner's gates are 0/1 in the forward pass and carry a gradient), r the replacement.
- A weight edge src -> dst loses its contribution: the linear layer's output row dst gets
  W[dst, src] * (r - input[src]).
- A residual edge (a write read by a later sublayer) is removed from what that reader's norm
  sees, on that channel only: the residual stream itself is untouched.

A third mode, "patch", replaces the value by the one it has on a source prompt (a minimal
pair's twin): a node takes its activation, a weight edge its input channel, a residual edge its
write, as recorded in one forward pass of the source through the model as the caller runs it
(normally clean: no interventions). Positions are aligned from the right, since the answer is
read at the last token: the prompt's last position takes the source's last, and so on back; a
position with no counterpart (the longer prompt's first ones) keeps its own value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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


NO_SOURCE = "patching from the paired prompt needs a source prompt, and this prompt has no pair"


@dataclass(frozen=True)
class PatchSource:
    """Where patched values come from, for a batch: each row's source prompt (token ids), and
    each row's own prompt length in the right-padded batch (None: every row fills the batch's
    width, as a single prompt does)."""

    tokens: Sequence[Sequence[int]]
    lengths: Sequence[int] | None = None

    @classmethod
    def of(cls, source) -> "PatchSource | None":
        """A PatchSource as given, or one prompt's token ids as the source of a one-row batch."""
        if source is None or isinstance(source, PatchSource):
            return source
        return cls([list(source)])


def aligned_positions(length: int, source_length: int, width: int | None = None):
    """[width] source position of each position of a prompt of `length` tokens, aligned from
    the right (the last with the last); -1 where there is none (before the source begins, or
    in the padding after the prompt)."""
    width = length if width is None else width
    t = torch.arange(width)
    s = t - length + source_length
    return torch.where((s >= 0) & (t < length), s, torch.full_like(s, -1))


class _Patches:
    """The source's values at the hook points the patches read, recorded in one forward pass,
    and handed out aligned to the batch being run."""

    def __init__(self, model, source: PatchSource, wanted: dict[str, set[int]]):
        rows = [list(r)[-model.config.block_size :] for r in source.tokens]
        if not rows or not all(rows):
            raise ValueError("the source prompt is empty")
        self.source_lengths = [len(r) for r in rows]
        self.lengths = None if source.lengths is None else list(source.lengths)
        if self.lengths is not None and len(self.lengths) != len(rows):
            raise ValueError(f"{len(rows)} source prompts for a batch of {len(self.lengths)}")
        device = next(model.parameters()).device
        ids = torch.zeros(len(rows), max(self.source_lengths), dtype=torch.long, device=device)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, device=device)
        self.channels = {key: sorted(cs) for key, cs in wanted.items()}
        self.recorded: dict[str, torch.Tensor] = {}  # key -> [B, S, len(channels)]

        def record(key):
            cols = torch.tensor(self.channels[key], device=device)

            def save(x, name, inp=None):
                self.recorded[key] = (x if inp is None else inp).index_select(-1, cols).detach()

            return save

        hooks = [(key.removesuffix(":in"), record(key)) for key in self.channels]
        last = torch.tensor(self.source_lengths, device=device) - 1  # (no need to unembed the rest)
        with torch.no_grad(), model.hooks(hooks):
            model(ids, last=last)
        self._index: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _alignment(self, shape, device):
        """(row, source position) gather indices [B, W] and the mask of positions patched."""
        batch, width = shape[0], shape[1]
        if batch != len(self.source_lengths):
            raise ValueError(f"{len(self.source_lengths)} source prompts for a batch of {batch}")
        if width not in self._index:
            lengths = self.lengths or [width] * batch
            pos = torch.stack(
                [aligned_positions(n, s, width) for n, s in zip(lengths, self.source_lengths)]
            ).to(device)
            self._index[width] = (pos.clamp(min=0), pos >= 0)
        return self._index[width]

    def values(self, key: str, channel: int, like: torch.Tensor):
        """(value [B, W], mask [B, W]) of `channel` at `key` for a batch shaped like `like`
        ([B, W, ...]): the source's value where a position has a counterpart."""
        pos, mask = self._alignment(like.shape, like.device)
        col = self.channels[key].index(channel)
        rec = self.recorded[key][..., col].to(like.dtype)  # [B, S]
        return torch.gather(rec, 1, pos), mask


class _Plan:
    """The hooks one ablation installs, worked out from the request before the forward pass."""

    def __init__(self, model, gates, interventions, means, ablation: str, source=None):
        if ablation not in ("mean", "zero"):
            raise ValueError(f"ablation must be mean or zero, got {ablation!r}")
        needs_means = (gates and ablation == "mean") or any(iv.mode == "mean" for iv in interventions)
        if needs_means and means is None:
            raise ValueError("mean ablation needs the model's mean activations")
        source = PatchSource.of(source)
        if source is None and any(iv.mode == "patch" for iv in interventions):
            raise ValueError(NO_SOURCE)
        self.model, self.means = model, means
        self.patched: dict[str, list[int]] = {}  # site -> channels its node hook patches
        wanted: dict[str, set[int]] = {}  # hook key -> channels recorded on the source
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
                if iv.mode == "patch":
                    self._patch_node(node)
                    wanted.setdefault(node.site, set()).add(node.index)
                else:
                    self._ablate_node(node, iv.mode)
                continue
            src, dst = (topo.check_node(n) for n in iv.endpoints)
            wire = topo.wire(src, dst)
            if wire is not None:
                key, row, col = wire
                self.weights.setdefault(key, []).append((row, col, iv.mode))
                if iv.mode == "patch":
                    wanted.setdefault(f"{key}:in", set()).add(col)
                continue
            link = topo.residual_link(src, dst)
            if link is None:
                raise ValueError(f"{iv.target}: no weight or residual channel joins these nodes")
            writer, _, norm = link
            self.residual.setdefault(norm, []).append((writer, src.index, iv.mode))
            if iv.mode == "patch":
                wanted.setdefault(writer, set()).add(src.index)
        self.patches = _Patches(model, source, wanted) if wanted else None

    def _patch_node(self, node: Node) -> None:
        """The channel is kept by its gate, then overwritten by the source's value."""
        if node.site not in self.node:
            width = self.model.topology.width(node.site)
            device = next(self.model.parameters()).device
            self.node[node.site] = (torch.ones(width, device=device), torch.zeros(width, device=device))
        g, r = self.node[node.site]
        keep = g.clone()
        keep[node.index] = 1.0
        self.node[node.site] = (keep, r)
        self.patched.setdefault(node.site, []).append(node.index)

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
        out = g * x + (1 - g) * r.to(x.dtype)
        for channel in self.patched.get(name, ()):
            value, mask = self.patches.values(name, channel, x)
            out[..., channel] = torch.where(mask, value, x[..., channel])
        return out

    def _weight_hook(self, out, name, inp):
        edits = self.weights[name]
        weight = self.model.submodule(name).weight
        rows = torch.tensor([e[0] for e in edits], device=out.device)
        cols = torch.tensor([e[1] for e in edits], device=out.device)
        repl = torch.stack([self._value(f"{name}:in", c, m, inp) for _, c, m in edits], dim=-1)
        delta = entries(weight, rows, cols).to(out.dtype) * (repl - inp[..., cols])
        return out.index_add(-1, rows, delta)

    def _recorder(self, channel):
        def record(x, name):
            self.written[(name, channel)] = x[..., channel]

        return record

    def _residual_hook(self, x, name):
        x = x.clone()
        for writer, channel, mode in self.residual[name]:
            written = self.written[(writer, channel)]
            repl = self._value(writer, channel, mode, x, own=written)
            x[..., channel] = x[..., channel] - written + repl
        return x

    def _value(self, key, index, mode, like, own=None):
        """The replacement of channel `index` at `key` over the batch's positions [B, W]:
        zero, its mean, or the source's value (`own`, the value now, where the source has no
        counterpart)."""
        own = like[..., index] if own is None else own
        if mode == "zero":
            return torch.zeros_like(own)
        if mode == "mean":
            return self.means[key][index].to(like.device, like.dtype).expand_as(own)
        value, mask = self.patches.values(key, index, like)
        return torch.where(mask, value, own)


@contextlib.contextmanager
def ablated(
    model,
    *,
    gates: dict[str, torch.Tensor] | None = None,
    interventions=(),
    means: dict[str, torch.Tensor] | None = None,
    ablation: str = "mean",
    source: "Sequence[int] | PatchSource | None" = None,
):
    """Run `model` with nodes gated off (`gates`, replaced by the mean or zero as `ablation`
    says) and `interventions` applied (each with its own mode), for the duration of the block,
    in this thread only. Patches take their values from `source`: the source prompt's token
    ids when one prompt is run, or a PatchSource for a batch (one source per row)."""
    plan = _Plan(model, gates, list(interventions), means, ablation, source)
    with model.hooks(plan.hooks()):
        yield model
