"""Node masks optimised under a budget of exactly k nodes (the paper's k-constrained pruning).

One score per node. Forward: the k highest scores keep their nodes, every other node is
ablated (a hard mask with exactly k ones). Backward: straight through a sigmoid centred between
the k-th and the (k+1)-th score, the surrogate the free masks use (core/prune.py), so the
nodes near the cut-off move most and a node outside can overtake one inside. The task loss
alone is minimised: the budget is the constraint, no penalty is needed.

Every step's forward pass is an exact evaluation of one k-node set, so the best set seen (the
starting one included) is kept: the result is never worse than where it started.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .adamw import AdamW


def top_k_keep(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask of the k highest scores; ties go to the earlier node, as in the ranking."""
    keep = torch.zeros_like(scores, dtype=torch.bool)
    if k > 0:
        order = torch.argsort(scores.detach(), descending=True, stable=True)
        keep[order[:k]] = True
    return keep


class _TopKSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores, k, temperature):
        keep = top_k_keep(scores, k)
        ordered = torch.sort(scores.detach(), descending=True).values
        upper = ordered[k - 1] if k > 0 else ordered[0] + 1
        lower = ordered[k] if k < len(ordered) else ordered[-1] - 1
        ctx.save_for_backward(scores, (upper + lower) / 2)
        ctx.temperature = temperature
        return keep.to(scores.dtype)

    @staticmethod
    def backward(ctx, grad):
        scores, threshold = ctx.saved_tensors
        s = torch.sigmoid((scores - threshold) / ctx.temperature)
        return grad * s * (1 - s) / ctx.temperature, None, None


def top_k_gates(scores: torch.Tensor, k: int, temperature: float) -> torch.Tensor:
    """Exactly k ones (the top-k scores) forward; a sigmoid surrogate at the cut-off backward."""
    return _TopKSTE.apply(scores, k, temperature)


class FixedKMask:
    """Scores for n nodes, optimised (Adam) so that the k nodes they keep minimise the task
    loss. `best_keep` / `best_loss`: the best k-node set evaluated so far."""

    def __init__(self, scores: torch.Tensor, k: int, lr: float, temperature: float):
        if not 0 < k < len(scores):
            raise ValueError(f"k must be between 1 and {len(scores) - 1}, got {k}")
        self.k, self.temperature = k, temperature
        self.scores = torch.nn.Parameter(scores.detach().clone().float())
        self.opt = AdamW([{"params": [self.scores]}], lr=lr)
        self.best_loss = math.inf
        self.best_keep = top_k_keep(self.scores, k)
        self.steps = 0

    def step(self, task_loss: Callable[[torch.Tensor], torch.Tensor]) -> float:
        """One step: `task_loss(gates)` of the current k nodes, recorded, then a gradient step.
        Returns that loss."""
        self.steps += 1
        gates = top_k_gates(self.scores, self.k, self.temperature)
        loss = task_loss(gates)
        value = float(loss.detach())
        if value < self.best_loss:
            self.best_loss, self.best_keep = value, gates.detach() > 0
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return value
