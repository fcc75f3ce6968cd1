"""What one attention head attends to on a prompt: its pattern from the full head, the pattern
from a circuit's kept q/k channels of it alone, and the per-token product of one q channel and
one k channel.

The q and k vectors are read at the model's own hook points (`L.attn.q`, `L.attn.k`: after
AbsTopK activation sparsity, where the config has it there, and after the user's
interventions, which run through core/ablation.py's one path), so the full pattern is the one
the model computes: softmax(q·k / √d_head) over the causal keys, with OpenAI's sink (a zero
key whose logit is learned per head) in each row's denominator.

The kept pattern recomputes the scores with the head's other q/k channels replaced as a
circuit's pruning replaces them: by their mean activation (`others="mean"`, the paper's mean
ablation; the default) or by zero (`others="zero"`: the scores summed over the kept channels
alone). Everything upstream of the head stays as the model with the interventions computes it.

A node `L.attn.q.I` indexes the concatenated heads' channels: head I // d_head, its dimension
I % d_head (core/model.py splits c_attn's q rows into heads that way).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from .interventions import applied
from .topology import Node

QK_LOCATIONS = ("attn.q", "attn.k")
HEAD_LOCATIONS = ("attn.q", "attn.k", "attn.v")
OTHERS = ("mean", "zero")


@dataclass
class HeadPattern:
    """Attention of one head over a prompt of n tokens. Patterns are [query, key] probabilities,
    zero above the diagonal (a query never sees later keys); with a sink, each row sums to
    1 minus its sink share."""

    layer: int
    head: int
    full: np.ndarray  # [n, n] the head as the model computes it
    kept: np.ndarray  # [n, n] from the kept q/k channels, the others as `others` says
    sink_full: np.ndarray | None  # [n] share of each query's attention on the sink; None: no sink
    sink_kept: np.ndarray | None
    kept_q: list[int]  # channel indices (of the concatenated heads) kept at attn.q
    kept_k: list[int]
    others: str  # "mean" or "zero": what the other q/k channels were in `kept`
    qk: np.ndarray | None = None  # [n, n] q_i(query) * k_j(key) / √d_head, NaN above the diagonal
    qk_channels: tuple[int, int] | None = None  # (i, j) of `qk`


def head_of(model, node: str) -> tuple[int, int]:
    """(layer, head) of an attn.q, attn.k or attn.v node; ValueError for any other node."""
    n = model.topology.check_node(node)
    if n.location not in HEAD_LOCATIONS:
        raise ValueError(f"{node}: not a query, key or value channel (attn.q, attn.k, attn.v)")
    return n.layer, n.index // model.config.d_head


def kept_channels(model, nodes: Iterable[str], layer: int, head: int) -> tuple[list[int], list[int]]:
    """The channel indices of `nodes` (a circuit's) at attn.q and attn.k of this head."""
    q, k = [], []
    for name in nodes:
        n = Node.parse(name)
        if n.layer == layer and n.location in QK_LOCATIONS and n.index // model.config.d_head == head:
            (q if n.location == "attn.q" else k).append(n.index)
    return sorted(q), sorted(k)


def circuit_heads(model, nodes: Iterable[str]) -> list[tuple[int, int]]:
    """The (layer, head) pairs a circuit keeps q or k channels of, in model order."""
    d_head = model.config.d_head
    heads = {(n.layer, n.index // d_head) for n in map(Node.parse, nodes) if n.location in QK_LOCATIONS}
    return sorted(heads)


@torch.no_grad()
def record_qk(
    model, ids: list[int], layer: int, interventions=(), means=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(q, k) at `layer` for the prompt, [n, n_head * d_head] each, under the interventions."""
    if not ids:
        raise ValueError("the prompt is empty")
    if not 0 <= layer < model.config.n_layer:
        raise ValueError(f"layer {layer}: the model has {model.config.n_layer} layers")
    ids = ids[-model.config.block_size :]
    device = next(model.parameters()).device
    sites = [f"{layer}.attn.q", f"{layer}.attn.k"]
    with applied(model, interventions, means):
        _, cache = model.run_with_cache(torch.tensor([ids], device=device), sites)
    return cache[sites[0]][0], cache[sites[1]][0]


def _pattern(q: torch.Tensor, k: torch.Tensor, scale: float, sink: float | None):
    """([n, n] probabilities, [n] sink shares or None) from one head's q, k [n, d_head]."""
    n = q.shape[0]
    scores = (q.double() @ k.double().T) * scale
    scores = scores.masked_fill(~torch.ones(n, n, dtype=torch.bool, device=q.device).tril(), -math.inf)
    if sink is None:
        return torch.softmax(scores, -1).cpu().numpy(), None
    logits = torch.cat([scores.new_full((n, 1), float(sink)), scores], dim=1)
    p = torch.softmax(logits, -1).cpu().numpy()
    return p[:, 1:], p[:, 0]


def _check_channels(model, layer: int, head: int, location: str, channels) -> list[int]:
    d = model.config.d_head
    out = []
    for c in channels:
        if not head * d <= int(c) < (head + 1) * d:
            raise ValueError(
                f"{layer}.{location}.{c}: not a channel of head {head} "
                f"(channels {head * d}..{(head + 1) * d - 1})"
            )
        out.append(int(c))
    return sorted(set(out))


def head_pattern(
    model,
    ids: list[int],
    layer: int,
    head: int,
    kept_q: Iterable[int],
    kept_k: Iterable[int],
    interventions=(),
    means=None,
    others: str = "mean",
    qk_channels: tuple[int, int] | None = None,
) -> HeadPattern:
    """The head's full and kept-q/k attention patterns on the prompt (see the module's doc),
    and, with `qk_channels` (i, j), the map q_i(query) * k_j(key) / √d_head."""
    cfg = model.config
    if not 0 <= head < cfg.n_head:
        raise ValueError(f"head {head}: layer {layer} has {cfg.n_head} heads")
    if others not in OTHERS:
        raise ValueError(f"others must be mean or zero, got {others!r}")
    if others == "mean" and means is None:
        raise ValueError("others='mean' needs the model's mean activations")
    kept_q = _check_channels(model, layer, head, "attn.q", kept_q)
    kept_k = _check_channels(model, layer, head, "attn.k", kept_k)
    if qk_channels is not None:
        _check_channels(model, layer, head, "attn.q", [qk_channels[0]])
        _check_channels(model, layer, head, "attn.k", [qk_channels[1]])
    q, k = record_qk(model, ids, layer, interventions, means)
    cols = slice(head * cfg.d_head, (head + 1) * cfg.d_head)
    scale = 1.0 / math.sqrt(cfg.d_head)
    attn = model.transformer.h[layer].attn
    sink = None if attn.sink_logit is None else float(attn.sink_logit[head])
    full, sink_full = _pattern(q[:, cols], k[:, cols], scale, sink)
    q_kept = _kept(q, kept_q, f"{layer}.attn.q", means, others)[:, cols]
    k_kept = _kept(k, kept_k, f"{layer}.attn.k", means, others)[:, cols]
    kept, sink_kept = _pattern(q_kept, k_kept, scale, sink)
    qk = None
    if qk_channels is not None:
        i, j = qk_channels
        qk = (q[:, i].double()[:, None] * k[:, j].double()[None, :] * scale).cpu().numpy()
        qk[np.triu_indices(len(qk), 1)] = np.nan
    return HeadPattern(
        layer,
        head,
        full,
        kept,
        sink_full,
        sink_kept,
        kept_q,
        kept_k,
        others,
        qk,
        None if qk_channels is None else (int(qk_channels[0]), int(qk_channels[1])),
    )


def _kept(x: torch.Tensor, channels: list[int], site: str, means, others: str) -> torch.Tensor:
    """x [n, width] with every channel but `channels` at its mean (or zero)."""
    if others == "mean":
        out = means[site].to(x.device, x.dtype).expand_as(x).clone()
    else:
        out = torch.zeros_like(x)
    out[:, channels] = x[:, channels]
    return out
