"""Weight sparsity (top-k by magnitude after every step, annealed) and AbsTopK activations."""

from __future__ import annotations

from dataclasses import dataclass

import torch


def abs_topk(x: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k entries of largest magnitude along the last dimension, zero the rest."""
    _, idx = torch.topk(x.abs(), k, dim=-1, sorted=False)
    return torch.zeros_like(x).scatter_(-1, idx, x.gather(-1, idx))


def l0_fraction_at(step: int, total_steps: int, target: float, anneal_frac: float = 0.5) -> float:
    """Kept fraction of each sparse matrix after `step` optimizer steps: linear from 1 (dense)
    to `target` over the first `anneal_frac` of training, then constant."""
    anneal_steps = anneal_frac * total_steps
    if anneal_steps <= 0:
        return target
    progress = min(1.0, step / anneal_steps)
    return 1.0 - (1.0 - target) * progress


def keep_count(numel: int, fraction: float) -> int:
    return max(1, min(numel, round(fraction * numel)))


@torch.no_grad()
def topk_mask(weight: torch.Tensor, k: int, min_per_unit: int = 4) -> torch.Tensor:
    """Boolean mask keeping exactly k entries of `weight` by magnitude, except that every row
    and column of a matrix first keeps its own `min_per_unit` largest entries, so that no
    neuron or channel is cut off (the paper's j). If those alone exceed k, they are all kept."""
    score = weight.detach().abs().float()
    if weight.dim() == 2 and min_per_unit > 0:
        score = score.clone()
        forced = torch.zeros_like(score, dtype=torch.bool)
        for dim in (1, 0):
            j = min(min_per_unit, score.shape[dim])
            idx = torch.topk(score, j, dim=dim, sorted=False).indices
            forced.scatter_(dim, idx, True)
        score[forced] = float("inf")
        k = max(k, int(forced.sum()))
    flat = score.flatten()
    if k >= flat.numel():
        return torch.ones_like(weight, dtype=torch.bool)
    mask = torch.zeros(flat.numel(), dtype=torch.bool, device=weight.device)
    mask[torch.topk(flat, k, sorted=False).indices] = True
    return mask.view_as(weight)


@dataclass(frozen=True)
class SparsitySpec:
    """Which parameters are kept sparse, and the floor of nonzeros per neuron or channel."""

    dense_embeddings: bool = False
    dense_unembed: bool = False
    dense_biases: bool = False
    min_per_unit: int = 4


def sparse_parameters(model, spec: SparsitySpec) -> dict[str, torch.nn.Parameter]:
    """The parameters that weight sparsity applies to, by name: every linear weight, plus the
    embeddings, unembedding and biases unless configured dense. Norm gains, the attention sink
    and the bigram table stay dense."""
    chosen = {}
    seen = set()
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        if name.startswith("transformer.wte") or name.startswith("transformer.wpe"):
            keep = not spec.dense_embeddings
        elif name.startswith("lm_head"):
            keep = not spec.dense_unembed
        elif name.endswith(".bias") and (".attn.c_" in name or ".mlp.c_" in name):
            keep = not spec.dense_biases
        else:
            keep = name.endswith(".weight") and (".attn.c_" in name or ".mlp.c_" in name)
        if keep and p.requires_grad:
            chosen[name] = p
    return chosen


@torch.no_grad()
def project_(params: dict[str, torch.nn.Parameter], fraction: float, min_per_unit: int) -> None:
    """Zero all but the top `fraction` of each parameter's entries by magnitude, in place."""
    for p in params.values():
        if fraction >= 1.0:
            continue
        mask = topk_mask(p, keep_count(p.numel(), fraction), min_per_unit)
        p.mul_(mask)
