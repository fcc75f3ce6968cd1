"""Faithfulness checks of a circuit (each one call; `run_checks` does them all).

A circuit is only worth showing beside evidence that it is the model's mechanism: that it
suffices alone, that the model needs it, that a random set of the same size does not do as
well, that it holds on held-out examples and under zero ablation, and that the same pruner
cannot find an equally good "circuit" in a model with random weights (Drori, 2026).
"""

from __future__ import annotations

import statistics
from dataclasses import replace

import torch

from .circuit import Circuit
from .hooks import split_node_name
from .model import GPT
from .prune import PruneConfig, Pruner, gated_hooks, node_locations
from .taskeval import TaskBatch, candidate_logits, two_token_loss

CHECK_NAMES = ("sufficiency_loss", "necessity_loss", "random_circuit_loss_mean",
               "random_circuit_loss_std", "zero_ablation_loss", "heldout_loss",
               "reinit_control_loss")


def gates_for(model, nodes, keep: bool = True) -> dict[str, torch.Tensor]:
    """Gates that keep only `nodes` (keep=True) or everything but `nodes` (keep=False)."""
    device = next(model.parameters()).device
    fill = 0.0 if keep else 1.0
    gates = {loc: torch.full((model.location_width(loc),), fill, device=device)
             for loc in node_locations(model)}
    for node in nodes:
        location, index = split_node_name(node)
        gates[location][index] = 1.0 - fill
    return gates


@torch.no_grad()
def gated_loss(model, batch: TaskBatch, gates, means, calibration: dict | None = None) -> float:
    with model.hooks(gated_hooks(gates, means)):
        pair = candidate_logits(model(batch.input_ids), batch).float()
    if calibration:
        diff = calibration["scale"] * (pair[:, 0] - pair[:, 1]) + calibration["shift"]
        pair = torch.stack([diff, torch.zeros_like(diff)], dim=1)
    return float(two_token_loss(pair))


def _means_for(circuit: Circuit, means, mode: str | None = None):
    return means if (mode or circuit.ablation) == "mean" else None


def sufficiency(model, circuit, batch, means) -> float:
    """Task loss of the circuit alone: every other node ablated."""
    return gated_loss(model, batch, gates_for(model, circuit.nodes), _means_for(circuit, means),
                      circuit.calibration)


def necessity(model, circuit, batch, means) -> float:
    """Task loss with only the circuit ablated (chance is ln 2 = 0.69)."""
    return gated_loss(model, batch, gates_for(model, circuit.nodes, keep=False),
                      _means_for(circuit, means))


def zero_ablation(model, circuit, batch, means) -> float:
    """Sufficiency with the rest of the model zeroed instead of mean-ablated."""
    return gated_loss(model, batch, gates_for(model, circuit.nodes), None, circuit.calibration)


def random_circuits(model, circuit, batch, means, draws: int = 20, seed: int = 0):
    """(mean, std) of sufficiency over random node sets with the circuit's count per location."""
    gen = torch.Generator().manual_seed(seed)
    per_location: dict[str, int] = {}
    for node in circuit.nodes:
        location, _ = split_node_name(node)
        per_location[location] = per_location.get(location, 0) + 1
    losses = []
    for _ in range(draws):
        nodes = []
        for location, count in per_location.items():
            picks = torch.randperm(model.location_width(location), generator=gen)[:count]
            nodes += [f"{location}.{i}" for i in picks.tolist()]
        losses.append(gated_loss(model, batch, gates_for(model, nodes),
                                 _means_for(circuit, means), circuit.calibration))
    return statistics.mean(losses), (statistics.stdev(losses) if len(losses) > 1 else 0.0)


@torch.no_grad()
def reinitialised(model: GPT, seed: int = 0) -> GPT:
    """A copy with fresh random weights on the same sparsity pattern, each matrix at the
    spread of the original's nonzeros; norm gains 1, sinks 0, biases as the pattern allows."""
    copy = GPT(model.config).to(next(model.parameters()).device).eval()
    gen = torch.Generator().manual_seed(seed)
    originals = dict(model.named_parameters())
    for name, p in copy.named_parameters():
        src = originals[name]
        if "ln_" in name or "sink_logit" in name:
            continue            # fresh defaults from the constructor
        nonzero = src != 0
        std = float(src[nonzero].float().std()) if int(nonzero.sum()) > 1 else 0.02
        fresh = torch.randn(p.shape, generator=gen).to(p.device) * std
        p.copy_(fresh * nonzero)
    copy.final_logits_bias.zero_()
    return copy


def reinit_control(model, circuit, batch, stream_factory, prune_config: PruneConfig) -> float:
    """Prune a re-initialised twin with the same pruner; its loss at the circuit's size."""
    from .means import compute_means
    twin = reinitialised(model, seed=prune_config.seed + 1)
    twin_means = compute_means(twin, stream_factory()) if circuit.ablation == "mean" else None
    pruner = Pruner(twin, batch, twin_means, replace(prune_config, ablation=circuit.ablation))
    for event in pruner.run():
        if event.phase == "bisect":      # the optimisation is what we need; skip the search
            break
    return pruner.loss_with_top(circuit.n_nodes, pruner.ranking())


def run_checks(model, circuit: Circuit, batch: TaskBatch, heldout: TaskBatch, means,
               stream_factory, prune_config: PruneConfig | None = None, draws: int = 20) -> dict:
    mean, std = random_circuits(model, circuit, batch, means, draws, seed=circuit.seed)
    return {
        "sufficiency_loss": sufficiency(model, circuit, batch, means),
        "necessity_loss": necessity(model, circuit, batch, means),
        "random_circuit_loss_mean": mean,
        "random_circuit_loss_std": std,
        "zero_ablation_loss": zero_ablation(model, circuit, batch, means),
        "heldout_loss": sufficiency(model, circuit, heldout, means),
        "reinit_control_loss": reinit_control(model, circuit, batch, stream_factory,
                                              prune_config or PruneConfig(seed=circuit.seed)),
    }
