"""The search for a circuit's size: the fewest nodes whose task loss reaches the target, with
every k tried kept as the loss-versus-k curve.

1. k = 0, everything ablated: a task the unmasked paths (embeddings, bigram table) already
   solve needs no node.
2. The ranking of the learned mask logits: its top k on a doubling grid, then by bisection
   (the loss need not fall monotonically in k: mean-ablating a distractor can help).
3. Below the ranking's answer, masks optimised at fixed k (core/fixed_k.py), each started from
   the scores of the nearest larger k optimised so far: one node fewer, then steps doubling
   while the target is met, then bisection between the largest k that missed and the
   smallest that met it, for at most as many steps as the masks' own optimisation took. The
   answer and its neighbours k - 1 and k + 1 are all optimised at fixed k: the ranking's
   answer, when it stands, for the full number of steps.

A smaller k than the ranking's is taken only where a fixed-k mask meets the target, so the
circuit is never larger than the ranking alone would give.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator

import torch

from .fixed_k import FixedKMask
from .prune import PruneEvent, Pruner

Search = Generator[PruneEvent, None, int]


class KSearch:
    def __init__(self, pruner: Pruner):
        self.pruner = pruner
        self.target = pruner.config.target_loss
        self.n = pruner.n_nodes
        self.ranking = pruner.ranking()
        self.by_ranking: dict[int, float] = {}  # k -> task loss of the ranking's top k
        self.fixed: dict[int, FixedKMask] = {}  # k -> the best mask optimised at k
        self.step = 0  # search steps so far, for the events
        self.fixed_k_steps = 0  # optimisation steps spent at fixed k

    def run(self) -> Iterator[PruneEvent]:
        k = yield from self._bisect_ranking()
        if 0 < k < self.n and self.loss_at(k) <= self.target and self.pruner.config.fixed_k_steps > 0:
            k = yield from self._shrink(k)
            for near in (k, k - 1, k + 1):
                if 0 < near < self.n and near not in self.fixed:
                    yield from self._optimize(near, stop_at=None if near == k else self.target)
        yield self._done(k)

    def run_at(self, k: int) -> Iterator[PruneEvent]:
        """The best circuit of exactly k nodes: the ranking's top k or a mask optimised at k."""
        self.ranking_loss(k)
        if 0 < k < self.n and self.pruner.config.fixed_k_steps > 0:
            yield from self._optimize(k, stop_at=None)
        yield self._done(k)

    def _done(self, k: int) -> PruneEvent:
        circuit = self.pruner.make_circuit(self.nodes_at(k), self.loss_at(k), self.loss_vs_k())
        return PruneEvent("done", self.step, self.step, circuit.loss_circuit, k, circuit)

    # ---- the curve ---------------------------------------------------------------------------

    def ranking_loss(self, k: int) -> float:
        if k not in self.by_ranking:
            self.by_ranking[k] = self.pruner.loss_with_top(k, self.ranking)
        return self.by_ranking[k]

    def loss_at(self, k: int) -> float:
        """The lowest task loss found for k nodes: the ranking's top k or the mask optimised at
        k, whichever is lower where both were evaluated."""
        fixed = self.fixed[k].best_loss if k in self.fixed else math.inf
        return min(self.by_ranking.get(k, math.inf), fixed)

    def nodes_at(self, k: int) -> list[tuple[str, int]]:
        """The k nodes that gave `loss_at(k)`."""
        if k in self.fixed and self.fixed[k].best_loss <= self.by_ranking.get(k, math.inf):
            return self.pruner.nodes_kept(self.fixed[k].best_keep)
        return self.ranking[:k]

    def loss_vs_k(self) -> list[list]:
        """[[k, loss_at(k)], ...] for every k evaluated, by k."""
        return [[k, self.loss_at(k)] for k in sorted(set(self.by_ranking) | set(self.fixed))]

    # ---- the ranking -------------------------------------------------------------------------

    def _bisect_ranking(self) -> Search:
        """The smallest top-k of the ranking that meets the target (k = 0 tried first), or
        every node when none does."""
        target, n = self.target, self.n
        grid = [0] + sorted({min(n, 2**e) for e in range(int(math.log2(max(n, 1))) + 2)} | {self._own_size()})
        hi = next((k for k in grid if self.ranking_loss(k) <= target), None)
        if hi is None:
            return n  # even the whole model misses the target: keep everything
        lo = max([k for k in self.by_ranking if k < hi] or [0])
        while hi - lo > 1:
            mid = (lo + hi) // 2
            self.step += 1
            if self.ranking_loss(mid) <= target:
                hi = mid
            else:
                lo = mid
            yield PruneEvent(
                "bisect",
                self.step,
                self.step + int(math.log2(max(hi - lo, 1))) + 1,
                self.by_ranking[mid],
                mid,
            )
        return hi

    def _own_size(self) -> int:
        """How many nodes the learned masks themselves keep (at least 1)."""
        return max(1, sum(int((p.detach() > 0).sum()) for p in self.pruner.logits.values()))

    # ---- masks at fixed k --------------------------------------------------------------------

    def _shrink(self, good: int) -> Search:
        """The smallest k <= `good` (which meets the target) that meets it at fixed k."""
        bad, stride = 0, 1
        while good - stride > 0 and self._budget_left():
            if (yield from self._meets(good - stride)):
                good, stride = good - stride, stride * 2
            else:
                bad = good - stride
                break
        while good - bad > 1 and self._budget_left():
            mid = (good + bad) // 2
            if (yield from self._meets(mid)):
                good = mid
            else:
                bad = mid
        return good

    def _budget_left(self) -> bool:
        """Whether the search below the ranking's answer has steps left: as many as the masks'
        own optimisation (a tiny model's circuit of hundreds of nodes would take dozens of
        fixed-k runs to bisect)."""
        return self.fixed_k_steps < self.pruner.config.steps

    def _meets(self, k: int) -> Generator[PruneEvent, None, bool]:
        if k not in self.fixed and self.loss_at(k) > self.target:
            yield from self._optimize(k, stop_at=self.target)
        return self.loss_at(k) <= self.target

    def _optimize(self, k: int, stop_at: float | None) -> Iterator[PruneEvent]:
        """A mask optimised at k from the nearest larger k's scores (or the learned logits);
        kept if it beats the one already found at k."""
        self.step += 1
        mask = yield from self.pruner.optimize_at_k(k, self._start_for(k), stop_at)
        self.fixed_k_steps += mask.steps
        if k not in self.fixed or mask.best_loss < self.fixed[k].best_loss:
            self.fixed[k] = mask

    def _start_for(self, k: int) -> torch.Tensor:
        if k in self.fixed:
            return self.fixed[k].scores.detach()
        larger = [j for j in self.fixed if j > k]
        return self.fixed[min(larger)].scores.detach() if larger else self.pruner.flat_logits()
