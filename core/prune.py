"""Pruning a model to a task circuit (Gao et al. 2025, section 2.2 and appendix A.5).

One mask logit per node (shared across positions) at every node location. Forward: a
Heaviside step keeps or mean-ablates the node; backward: a sigmoid surrogate with a
temperature. Loss = task loss + k_coef x (nodes kept). Then the search for the circuit's size
k (core/k_search.py): k = 0 first, a bisection over the top-k of the logits' ranking, then
masks optimised at fixed k (core/fixed_k.py) below the ranking's answer, which may reach the
target with fewer nodes. Every k evaluated is kept in the circuit's `loss_vs_k`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import torch

from .ablation import ablated
from .adamw import AdamW
from .circuit import Circuit, extract_edges
from .fixed_k import FixedKMask
from .taskeval import TaskBatch, calibrated, candidate_logits, two_token_loss
from .topology import sort_nodes

# The examples run in this many batches of similar length, not padded to the longest prompt:
# a task's prompts vary about twofold in length, and pruning is thousands of forward passes.
LENGTH_GROUPS = 4


@dataclass
class PruneConfig:
    target_loss: float = 0.15
    ablation: str = "mean"  # or "zero"
    steps: int = 400
    lr: float = 0.02
    lr_end_frac: float = 0.0  # linear decay to this fraction of lr
    k_coef: float = 3e-3  # penalty per kept node (on a mean task loss)
    penalty_warmup_frac: float = 0.2
    temperature: float = 0.5
    init_low: float = 0.1  # mask logits start uniform in [init_low, 1]: all kept
    calibrate: bool = False  # the paper's scale-and-shift of the logit difference
    fixed_k_steps: int = 40  # mask steps at each fixed k the search tries; 0: the ranking alone
    fixed_k_lr: float = 0.05
    seed: int = 0

    def __post_init__(self):
        if self.ablation not in ("mean", "zero"):
            raise ValueError(f"ablation must be mean or zero, got {self.ablation!r}")
        if self.target_loss <= 0:
            raise ValueError(f"target loss must be positive, got {self.target_loss!r}")
        if self.fixed_k_steps < 0:
            raise ValueError(f"fixed-k steps must be 0 or more, got {self.fixed_k_steps!r}")


@dataclass
class PruneEvent:
    phase: str  # "optimize", "bisect", "fixed_k" (a mask optimised at k = kept) or "done"
    step: int
    total: int
    task_loss: float
    kept: int  # nodes kept by the current masks or the search's candidate k
    circuit: Circuit | None = None


class _HeavisideSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, temperature):
        ctx.save_for_backward(logits)
        ctx.temperature = temperature
        return (logits > 0).to(logits.dtype)

    @staticmethod
    def backward(ctx, grad):
        (logits,) = ctx.saved_tensors
        s = torch.sigmoid(logits / ctx.temperature)
        return grad * s * (1 - s) / ctx.temperature, None


def heaviside(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return _HeavisideSTE.apply(logits, temperature)


class Pruner:
    def __init__(
        self,
        model,
        batch: TaskBatch,
        means: dict[str, torch.Tensor] | None,
        config: PruneConfig,
        task_name: str = "task",
    ):
        self.model = model.eval()
        self.batch, self.config, self.task_name = batch, config, task_name
        self.means = means if config.ablation == "mean" else None
        if config.ablation == "mean" and means is None:
            raise ValueError("mean ablation needs the model's mean activations")
        self.locations = model.topology.sites
        self.widths = [model.topology.width(site) for site in self.locations]
        gen = torch.Generator().manual_seed(config.seed)
        device = next(model.parameters()).device
        self.logits = {
            loc: torch.nn.Parameter(
                (config.init_low + (1 - config.init_low) * torch.rand(w, generator=gen)).to(device)
            )
            for loc, w in zip(self.locations, self.widths)
        }
        self.calibration = torch.nn.Parameter(torch.tensor([1.0, 0.0], device=device))
        self.flat_nodes = [(loc, i) for loc, w in zip(self.locations, self.widths) for i in range(w)]
        self.groups = batch.by_length(LENGTH_GROUPS)

    @property
    def n_nodes(self) -> int:
        return sum(self.widths)

    def _pair_logits(self, gates) -> torch.Tensor:
        """[N, 2] candidate logits under the gates, the examples grouped by length."""
        with ablated(self.model, gates=gates, means=self.means, ablation=self.config.ablation):
            pair = torch.cat([candidate_logits(self.model, group) for group in self.groups]).float()
        return calibrated(pair, self._calibration())

    def _calibration(self) -> dict | None:
        if not self.config.calibrate:
            return None
        scale, shift = self.calibration
        return {"scale": scale, "shift": shift}

    def run(self, k: int | None = None) -> Iterator[PruneEvent]:
        """Optimise the masks, then search for the circuit's size (or, given `k`, find the
        best circuit of k nodes); the model's weights (and, once the masks are learned, the
        calibration) are frozen meanwhile."""
        from .k_search import KSearch  # which needs this module's events

        flags = [(p, p.requires_grad) for p in self.model.parameters()]
        for p, _ in flags:
            p.requires_grad_(False)
        try:
            yield from self._optimize()
            self.calibration.requires_grad_(False)
            search = KSearch(self)
            yield from search.run() if k is None else search.run_at(k)
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)

    def _optimize(self) -> Iterator[PruneEvent]:
        cfg = self.config
        params = list(self.logits.values()) + ([self.calibration] if cfg.calibrate else [])
        opt = AdamW([{"params": params}], lr=cfg.lr)
        warmup = max(1, int(cfg.penalty_warmup_frac * cfg.steps))
        for step in range(cfg.steps):
            frac = step / max(1, cfg.steps - 1)
            for group in opt.param_groups:
                group["lr"] = cfg.lr * (1 - (1 - cfg.lr_end_frac) * frac)
            gates = {loc: heaviside(p, cfg.temperature) for loc, p in self.logits.items()}
            task_loss = two_token_loss(self._pair_logits(gates))
            kept = sum(g.sum() for g in gates.values())
            penalty = cfg.k_coef * min(1.0, (step + 1) / warmup) * kept
            opt.zero_grad(set_to_none=True)
            (task_loss + penalty).backward()
            opt.step()
            with torch.no_grad():
                for p in self.logits.values():
                    p.clamp_(-1, 1)
            yield PruneEvent("optimize", step + 1, cfg.steps, float(task_loss.detach()), int(kept.detach()))

    # ---- discretise ------------------------------------------------------------------------

    def ranking(self) -> list[tuple[str, int]]:
        """Every node as (location, index), most important (highest mask logit) first."""
        # Ties (e.g. many logits clamped at -1) are broken by the node's order, deterministically.
        order = torch.argsort(self.flat_logits().cpu(), descending=True, stable=True)
        return [self.flat_nodes[j] for j in order.tolist()]

    def gates_for_top(self, k: int, ranking=None) -> dict[str, torch.Tensor]:
        ranking = ranking or self.ranking()
        device = next(iter(self.logits.values())).device
        gates = {loc: torch.zeros(w, device=device) for loc, w in zip(self.locations, self.widths)}
        for loc, i in ranking[:k]:
            gates[loc][i] = 1.0
        return gates

    @torch.no_grad()
    def loss_with_top(self, k: int, ranking) -> float:
        return float(two_token_loss(self._pair_logits(self.gates_for_top(k, ranking))))

    # ---- masks at a fixed k (core/fixed_k.py) ----------------------------------------------

    def flat_logits(self) -> torch.Tensor:
        """Every node's mask logit in one vector, node by node as `flat_nodes`."""
        return torch.cat([p.detach() for p in self.logits.values()])

    def nodes_kept(self, keep: torch.Tensor) -> list[tuple[str, int]]:
        """The nodes of a bool mask over `flat_nodes`."""
        return [self.flat_nodes[j] for j in keep.nonzero().flatten().tolist()]

    def optimize_at_k(
        self, k: int, start: torch.Tensor, stop_at: float | None = None
    ) -> Generator[PruneEvent, None, FixedKMask]:
        """Masks keeping exactly k nodes, optimised from the scores `start` (flat, as
        `flat_logits`) for `fixed_k_steps` steps, or until a k-node set's loss is at most
        `stop_at`. Returns the FixedKMask, whose best set is the result."""
        cfg = self.config
        mask = FixedKMask(start, k, cfg.fixed_k_lr, cfg.temperature)

        def task_loss(gates: torch.Tensor) -> torch.Tensor:
            return two_token_loss(self._pair_logits(dict(zip(self.locations, gates.split(self.widths)))))

        for step in range(cfg.fixed_k_steps):
            loss = mask.step(task_loss)
            yield PruneEvent("fixed_k", step + 1, cfg.fixed_k_steps, loss, k)
            if stop_at is not None and mask.best_loss <= stop_at:
                break
        return mask

    @torch.no_grad()
    def make_circuit(self, nodes: list[tuple[str, int]], loss_circuit: float, loss_vs_k=None) -> Circuit:
        pair = candidate_logits(self.model, self.batch).float()
        nodes = [f"{loc}.{i}" for loc, i in nodes]
        calibration = None
        if self.config.calibrate:
            scale, shift = self.calibration.tolist()
            calibration = {"scale": scale, "shift": shift}
        return Circuit(
            task=self.task_name,
            target_loss=self.config.target_loss,
            ablation=self.config.ablation,
            nodes=sort_nodes(nodes),
            edges=extract_edges(self.model, nodes),
            loss_full=float(two_token_loss(pair)),
            loss_circuit=loss_circuit,
            seed=self.config.seed,
            calibration=calibration,
            n_examples=len(self.batch),
            loss_vs_k=loss_vs_k,
        )
