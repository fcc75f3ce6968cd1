"""What a node responds to over the corpus: its activation on ~100,000 tokens, a histogram, and
examples at percentile bins (top 0.1/1/10%, the median, bottom 10/1/0.1%) with their context.

The tokens are sampled once per model; a node's activations are computed when it is first
asked for, together with whichever other nodes the caller wants next (one forward pass serves
them all, and stops after the last layer they need), and kept as float16: 200 KB a node.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from .sparse import dense
from .topology import Node

PERCENTILE_BINS = (
    ("top 0.1%", 99.9),
    ("top 1%", 99.0),
    ("top 10%", 90.0),
    ("median", 50.0),
    ("bottom 10%", 10.0),
    ("bottom 1%", 1.0),
    ("bottom 0.1%", 0.1),
)
SAMPLE_TOKENS = 100_352  # 784 sequences of 128 tokens


@dataclass
class CorpusSample:
    ids: np.ndarray  # [n_seq, seq_len] token ids
    values: dict[str, np.ndarray] = field(default_factory=dict)  # node -> [n_seq, seq_len] f16

    @property
    def n_tokens(self) -> int:
        return int(self.ids.size)


def sample_ids(stream, n_tokens: int = SAMPLE_TOKENS, seq_len: int = 128, seed: int = 77) -> np.ndarray:
    """[n_seq, seq_len] token ids: non-overlapping windows of the validation split, as many as
    it holds up to `n_tokens`, in corpus order."""
    data = stream.val_ids
    seq_len = max(1, min(seq_len, len(data)))
    slots = max(1, len(data) // seq_len)
    n_seq = max(1, min(n_tokens // seq_len, slots))
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.choice(slots, size=n_seq, replace=False)) * seq_len
    return np.stack([data[s : s + seq_len] for s in starts]).astype(np.int64)


class _Enough(Exception):
    """Raised by the hook of the last site a sample needs: the rest of the pass is not."""


@torch.no_grad()
def node_activations(model, ids: np.ndarray, nodes: list[str], batch_size: int = 32) -> Iterator:
    """Yields (sequences done, total) after each batch, then {node: [n_seq, seq_len] float16}."""
    parsed = [Node.parse(n) for n in nodes]
    by_site: dict[str, list[int]] = {}
    for node in parsed:
        by_site.setdefault(node.site, []).append(node.index)
    order = {site: i for i, site in enumerate(model.topology.sites)}
    last = max(by_site, key=order.__getitem__)
    index = {site: torch.tensor(ix) for site, ix in by_site.items()}
    out = {
        site: np.zeros((len(ids), ids.shape[1], len(ix)), dtype=np.float16) for site, ix in by_site.items()
    }
    device = next(model.parameters()).device
    rows = slice(0, 0)

    def capture(x, name):
        out[name][rows] = x[..., index[name].to(x.device)].float().cpu().numpy()
        if name == last:
            raise _Enough

    hooks = [(site, capture) for site in by_site]
    for start in range(0, len(ids), batch_size):
        rows = slice(start, start + batch_size)
        try:
            with model.hooks(hooks):
                model(torch.from_numpy(ids[rows]).to(device))
        except _Enough:
            pass
        yield min(start + batch_size, len(ids)), len(ids)
    yield {str(node): out[node.site][..., by_site[node.site].index(node.index)] for node in parsed}


@dataclass
class Context:
    tokens: list[str]  # a window of tokens around the example
    focus: int  # which of them is the example's token
    value: float


def node_values(sample: CorpusSample, node: str) -> np.ndarray:
    return sample.values[node].astype(np.float32)


def examples_by_bin(
    sample: CorpusSample, node: str, tokenizer, per_bin: int = 2, window: int = 8
) -> list[tuple[str, list[Context]]]:
    """Examples at each percentile, no token shown twice: where bins fall on the same ranks
    (a node that is mostly zero), a later bin moves on to the next unused ranks."""
    values = node_values(sample, node)
    flat = values.reshape(-1)
    order = np.argsort(flat, kind="stable")
    n = len(flat)
    used: set[int] = set()
    out = []
    for label, pct in PERCENTILE_BINS:
        rank = int(round(pct / 100 * (n - 1)))
        step = -1 if pct >= 50 else 1  # top bins walk down, bottom bins up
        picks, r = [], min(max(0, rank - per_bin // 2 * step), n - 1)
        while len(picks) < per_bin and 0 <= r < n:
            if r not in used:
                picks.append(r)
                used.add(r)
            r += step
        contexts = []
        for flat_index in sorted((int(order[r]) for r in picks), key=lambda i: -flat[i]):
            seq, pos = divmod(flat_index, values.shape[1])
            start = max(0, pos - window)
            toks = [tokenizer.token_text(int(t)) for t in sample.ids[seq, start : pos + 2]]
            contexts.append(Context(toks, pos - start, float(values[seq, pos])))
        out.append((label, contexts))
    return out


def top_tokens_for_channel(model, tokenizer, channel: int, k: int = 8) -> dict[str, list[tuple[str, float]]]:
    """For a residual channel: the tokens whose embedding writes it most, and whose
    unembedding reads it most."""

    def top(column: torch.Tensor):
        values, indices = column.abs().topk(min(k, column.numel()))
        return [(tokenizer.token_text(int(i)), float(column[i])) for i in indices]

    with torch.no_grad():
        return {
            "embedding": top(model.transformer.wte.weight[:, channel].float().cpu()),
            "unembedding": top(dense(model.lm_head.weight)[:, channel].float().cpu()),
        }
