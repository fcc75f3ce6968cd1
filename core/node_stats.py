"""What a node responds to over the corpus: its activation on many tokens, a histogram, and
examples at percentile bins (top 0.1/1/10/50%, bottom likewise) with their context."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .topology import Node

PERCENTILE_BINS = (("top 0.1%", 99.9), ("top 1%", 99.0), ("top 10%", 90.0), ("top 50%", 50.0),
                   ("bottom 50%", 50.0), ("bottom 10%", 10.0), ("bottom 1%", 1.0),
                   ("bottom 0.1%", 0.1))


@dataclass
class CorpusSample:
    ids: np.ndarray                        # [n_seq, seq_len] token ids
    activations: dict[str, np.ndarray]     # location -> [n_seq, seq_len, width] float16


@torch.no_grad()
def sample_corpus(model, stream, n_seq: int = 48, seq_len: int = 96, seed: int = 77) -> CorpusSample:
    seq_len = min(seq_len, model.config.block_size)
    x, _ = stream.batch(0, n_seq, seq_len, seed, split="val")
    device = next(model.parameters()).device
    _, cache = model.run_with_cache(x.to(device), model.topology.sites)
    return CorpusSample(x.numpy(), {k: v.cpu().numpy().astype(np.float16) for k, v in cache.items()})


@dataclass
class Context:
    tokens: list[str]       # a window of tokens around the example
    focus: int              # which of them is the example's token
    value: float


def node_values(sample: CorpusSample, node: str) -> np.ndarray:
    node = Node.parse(node)
    return sample.activations[node.site][..., node.index].astype(np.float32)


def examples_by_bin(sample: CorpusSample, node: str, tokenizer, per_bin: int = 2,
                    window: int = 8) -> list[tuple[str, list[Context]]]:
    values = node_values(sample, node)
    flat = values.reshape(-1)
    order = np.argsort(flat, kind="stable")
    n = len(flat)
    out = []
    for label, pct in PERCENTILE_BINS:
        rank = int(round(pct / 100 * (n - 1)))
        lo = min(max(0, rank - per_bin // 2), max(0, n - per_bin))
        picks = order[lo: lo + per_bin][::-1]
        contexts = []
        for flat_index in picks:
            seq, pos = divmod(int(flat_index), values.shape[1])
            start = max(0, pos - window)
            toks = [tokenizer.token_text(int(t)) for t in sample.ids[seq, start: pos + 2]]
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
        return {"embedding": top(model.transformer.wte.weight[:, channel].float().cpu()),
                "unembedding": top(model.lm_head.weight[:, channel].float().cpu())}
