"""Pruning a model to a task circuit (Gao et al. 2025, section 2.2 and appendix A.5).

One mask logit per node (shared across positions) at every node location. Forward: a
Heaviside step keeps or mean-ablates the node; backward: a sigmoid surrogate with a
temperature. Loss = task loss + k_coef x (nodes kept). Then the nodes are ranked by their
logits and the smallest top-k that reaches the target task loss is found by bisection.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .ablation import ablated
from .circuit import Circuit, extract_edges
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
    seed: int = 0

    def __post_init__(self):
        if self.ablation not in ("mean", "zero"):
            raise ValueError(f"ablation must be mean or zero, got {self.ablation!r}")
        if self.target_loss <= 0:
            raise ValueError(f"target loss must be positive, got {self.target_loss!r}")


@dataclass
class PruneEvent:
    phase: str  # "optimize", "bisect" or "done"
    step: int
    total: int
    task_loss: float
    kept: int  # nodes kept by the current masks or the bisection's candidate k
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

    def run(self) -> Iterator[PruneEvent]:
        """Optimise the masks, then bisect; the model's weights are frozen meanwhile."""
        flags = [(p, p.requires_grad) for p in self.model.parameters()]
        for p, _ in flags:
            p.requires_grad_(False)
        try:
            yield from self._optimize()
            yield from self._bisect()
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)

    def _optimize(self) -> Iterator[PruneEvent]:
        cfg = self.config
        params = list(self.logits.values()) + ([self.calibration] if cfg.calibrate else [])
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
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
        scores = torch.cat([p.detach().cpu() for p in self.logits.values()])
        # Ties (e.g. many logits clamped at -1) are broken by the node's order, deterministically.
        order = torch.argsort(scores, descending=True, stable=True)
        flat = [(loc, i) for loc, w in zip(self.locations, self.widths) for i in range(w)]
        return [flat[j] for j in order.tolist()]

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

    def _bisect(self) -> Iterator[PruneEvent]:
        target, n = self.config.target_loss, self.n_nodes
        ranking = self.ranking()
        evaluated: dict[int, float] = {}

        def loss(k):
            if k not in evaluated:
                evaluated[k] = self.loss_with_top(k, ranking)
            return evaluated[k]

        # Coarse pass on a doubling grid plus the masks' own size (the loss need not fall
        # monotonically in k: mean-ablating a distractor can help), then bisect between the
        # largest evaluated k below the first passing one and it.
        own = sum(int((p.detach() > 0).sum()) for p in self.logits.values())
        grid = sorted({min(n, 2**e) for e in range(int(math.log2(max(n, 1))) + 2)} | {max(1, own)})
        hi = next((k for k in grid if loss(k) <= target), None)
        step = 0
        if hi is None:
            hi = n  # even the whole model misses the target: keep everything ranked
        else:
            lo = max([k for k in evaluated if k < hi] or [0])
            while hi - lo > 1:
                mid = (lo + hi) // 2
                step += 1
                if loss(mid) <= target:
                    hi = mid
                else:
                    lo = mid
                yield PruneEvent("bisect", step, step + int(math.log2(max(hi - lo, 1))) + 1, loss(mid), mid)
        circuit = self.make_circuit(hi, ranking, evaluated.get(hi, loss(hi)))
        yield PruneEvent("done", step, step, circuit.loss_circuit, hi, circuit)

    @torch.no_grad()
    def make_circuit(self, k: int, ranking, loss_circuit: float) -> Circuit:
        pair = candidate_logits(self.model, self.batch).float()
        nodes = [f"{loc}.{i}" for loc, i in ranking[:k]]
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
        )
