"""Weight sparsity (top-k by magnitude after every step, annealed) and AbsTopK activations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def abs_topk(x: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k entries of largest magnitude along the last dimension, zero the rest."""
    width = x.shape[-1]
    if k >= width:
        return x
    if k <= 0:
        return torch.zeros_like(x)
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        kept = _abs_topk_by_threshold(x, k)
        if kept is not None:
            return kept
    _, idx = torch.topk(x.abs(), k, dim=-1, sorted=False)
    return torch.zeros_like(x).scatter_(-1, idx, x.gather(-1, idx))


def _abs_topk_by_threshold(x: torch.Tensor, k: int) -> torch.Tensor | None:
    """abs_topk on CPU as a threshold: each row's k-th largest magnitude, found by numpy's
    introselect (several times faster than torch.topk there, where topk took a fifth of a
    sparse model's forward pass), and everything above the largest dropped magnitude kept.
    None where a row's k-th and (k+1)-th largest tie above zero (or are NaN): which tied entry
    topk keeps is its own choice, so topk decides. Dropped negatives become -0.0, equal to 0
    in every sum. The gradient reaches the kept entries, as through topk's gather.

    The result keeps x's layout: a sparse layer's output is stored by feature (core/sparse.py),
    and the next sparse layer reads it so; only the magnitudes are copied into rows by token
    for the selection."""
    mag = x.detach().abs()
    rows = mag.reshape(-1, mag.shape[-1]).contiguous().numpy()
    cut = rows.shape[-1] - k  # sorted ascending, the k-th largest sits at `cut`
    parted = np.partition(rows, cut, axis=-1)  # (numpy is slow given two positions)
    threshold, below = parted[:, cut], parted[:, :cut].max(-1)
    if not ((below < threshold) | (threshold == 0)).all():  # ties at 0 keep zeros: harmless
        return None
    # Without ties, kept means above `below`: 1 where mag - below > 0, else 0. Three float
    # passes ran twice as fast as a boolean comparison and its conversion.
    below = torch.from_numpy(below).view(*x.shape[:-1], 1)
    return x * (mag - below).clamp_(min=0).sign_()


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
    """Boolean mask keeping exactly k entries of `weight` (k clipped to [0, numel]), chosen by
    magnitude, of which every row and column of a matrix gets at least its own j largest (the
    paper's floor, so that no neuron or channel is cut off).

    The floor counts inside the budget: its entries are reserved first and the rest of the k
    are filled by magnitude among the others. The budget wins over the floor: j is the largest
    number up to `min_per_unit` (and the matrix's shorter side) whose floor entries fit in k,
    down to no floor at all. At the paper's 1/512 it is 3 for most matrices of random weights
    and 1 for the position embedding (1024 x 2048, a budget of 4096)."""
    numel = weight.numel()
    k = max(0, min(k, numel))
    if k == numel:
        return torch.ones_like(weight, dtype=torch.bool)
    score = weight.detach().abs()
    if score.dtype != torch.float32:
        score = score.float()
    if weight.dim() == 2 and min_per_unit > 0:
        j_max = min(min_per_unit, *weight.shape)
        rows = torch.topk(score, j_max, dim=1).indices  # rows[r, b]: column of row r's b-th largest
        cols = torch.topk(score, j_max, dim=0).indices  # cols[a, c]: row of column c's a-th largest
        j = floor_that_fits(rows, cols, k)
        # Each rank b < j of the floor is reserved; j stays on the device (no host read).
        for b in range(j_max):
            keep = b < j
            row_b, col_b = rows[:, b : b + 1], cols[b : b + 1]
            score.scatter_(1, row_b, torch.where(keep, float("inf"), score.gather(1, row_b)))
            score.scatter_(0, col_b, torch.where(keep, float("inf"), score.gather(0, col_b)))
    mask = torch.zeros(numel, dtype=torch.bool, device=weight.device)
    mask[torch.topk(score.flatten(), k, sorted=False).indices] = True
    return mask.view_as(weight)


def floor_that_fits(rows: torch.Tensor, cols: torch.Tensor, k: int) -> torch.Tensor:
    """The largest j whose floor (each row's j largest entries and each column's j largest,
    from `topk_mask`'s sorted indices) holds at most k distinct entries; 0 if none does. A
    0-dim tensor on the indices' device: nothing is read back.

    The floor of j holds j * (rows + columns) entries less those chosen both by their row and by
    their column: a column's a-th largest entry, of rank b in its row, is chosen twice from
    j = max(a, b) + 1 on. One pass over the j_max * columns column choices counts them all."""
    n_rows, j_max = rows.shape
    n_cols = cols.shape[1]
    col_index = torch.arange(n_cols, device=cols.device)
    ranks_in_row = rows[cols]  # (a, c, b): column of the b-th largest in the row of cols[a, c]
    hit = ranks_in_row == col_index[None, :, None]
    rank = torch.where(hit.any(-1), hit.int().argmax(-1), j_max)  # its rank b in its row
    level = torch.maximum(torch.arange(j_max, device=cols.device)[:, None], rank)
    twice = torch.bincount(level.flatten(), minlength=j_max + 1)[:j_max].cumsum(0)
    sizes = torch.arange(1, j_max + 1, device=cols.device) * (n_rows + n_cols) - twice
    return (sizes <= k).sum()  # sizes grow with j, so the ones that fit are the first ones


@dataclass(frozen=True)
class SparsitySpec:
    """Which parameters are kept sparse, and the floor of nonzeros per neuron or channel."""

    dense_embeddings: bool = False
    dense_unembed: bool = False
    dense_biases: bool = False
    min_per_unit: int = 4  # at most: within the budget it may be less (see topk_mask)


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
    """Zero all but the top `fraction` of each parameter's entries by magnitude (the floor of
    `min_per_unit` per row and column inside that budget), in place, without reading anything
    back from the device. `nonzero_fraction` measures the result."""
    if fraction < 1.0:
        for p in params.values():
            p.mul_(topk_mask(p, keep_count(p.numel(), fraction), min_per_unit))


@torch.no_grad()
def nonzero_fraction(params) -> float:
    """Nonzero entries over all entries of the given tensors (1.0 for none), with one sync."""
    params = list(params)
    if not params:
        return 1.0
    nonzero = torch.stack([torch.count_nonzero(p).to(params[0].device) for p in params]).sum()
    return int(nonzero) / sum(p.numel() for p in params)
