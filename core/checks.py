"""Faithfulness checks of a circuit (each one call; `run_checks` does them all).

A circuit is only worth showing beside evidence that it is the model's mechanism: that it
suffices alone, that the model needs it, that a random set of the same size does not do as
well, that it holds on held-out examples and under zero ablation, and that the same pruner
cannot find an equally good "circuit" in a model with random weights (Drori, 2026).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

import torch

from .ablation import ablated, gates_keeping
from .circuit import Circuit
from .model import GPT
from .prune import PruneConfig, Pruner
from .sparse import dense, is_sparse_model, sparsify
from .taskeval import TaskBatch, evaluate
from .topology import Node

CHECK_NAMES = (
    "sufficiency_loss",
    "necessity_loss",
    "random_circuit_loss_mean",
    "random_circuit_loss_std",
    "zero_ablation_loss",
    "heldout_loss",
    "reinit_control_loss",
)


def evaluate_circuit(
    model,
    batch: TaskBatch,
    nodes,
    means,
    ablation: str = "mean",
    calibration: dict | None = None,
    keep: bool = True,
) -> dict:
    """`evaluate` with only `nodes` kept (keep=True) or only `nodes` ablated (keep=False), the
    rest replaced by their means (or zero), through the circuit's calibration if it has one.
    `eval --circuit` and every check measure a circuit with this."""
    gates = gates_keeping(model, nodes, keep)
    with ablated(model, gates=gates, means=means if ablation == "mean" else None, ablation=ablation):
        return evaluate(model, batch, calibration)


def circuit_loss(model, batch, nodes, means, ablation="mean", calibration=None, keep=True) -> float:
    return evaluate_circuit(model, batch, nodes, means, ablation, calibration, keep)["task_loss"]


def sufficiency(model, circuit, batch, means) -> float:
    """Task loss of the circuit alone: every other node ablated."""
    return circuit_loss(model, batch, circuit.nodes, means, circuit.ablation, circuit.calibration)


def necessity(model, circuit, batch, means) -> float:
    """Task loss with only the circuit ablated (chance is ln 2 = 0.69)."""
    return circuit_loss(model, batch, circuit.nodes, means, circuit.ablation, keep=False)


def zero_ablation(model, circuit, batch, means) -> float:
    """Sufficiency with the rest of the model zeroed instead of mean-ablated."""
    return circuit_loss(model, batch, circuit.nodes, None, "zero", circuit.calibration)


def random_circuits(model, circuit, batch, means, draws: int = 20, seed: int = 0):
    """(mean, std) of sufficiency over random node sets with the circuit's count per site,
    drawn from the channels that have weights (a channel no nonzero weight reaches or leaves
    is a node no circuit would keep, and a draw of it would flatter the circuit)."""
    gen = torch.Generator().manual_seed(seed)
    per_site: dict[str, int] = {}
    for name in circuit.nodes:
        site = Node.parse(name).site
        per_site[site] = per_site.get(site, 0) + 1
    live = channels_with_weights(model)
    losses = []
    for _ in range(draws):
        nodes = []
        for site, count in per_site.items():
            pool = live[site]
            if len(pool) < count:  # the circuit keeps weightless channels too: draw from all
                pool = torch.arange(model.topology.width(site))
            picks = pool[torch.randperm(len(pool), generator=gen)[:count]]
            nodes += [f"{site}.{i}" for i in picks.tolist()]
        losses.append(circuit_loss(model, batch, nodes, means, circuit.ablation, circuit.calibration))
    return statistics.mean(losses), (statistics.stdev(losses) if len(losses) > 1 else 0.0)


@torch.no_grad()
def channels_with_weights(model) -> dict[str, torch.Tensor]:
    """{site: its channels that some nonzero weight of a linear layer reads or writes}."""
    topo = model.topology
    live = {site: torch.zeros(topo.width(site), dtype=torch.bool) for site in topo.sites}
    modules = dict(model.named_modules())
    for linear, src, dst, offset in topo.wire_pairs():
        w = dense(modules[_module_name(linear)].weight).detach().cpu()
        block = w[offset : offset + topo.width(dst)] != 0
        live[dst] |= block.any(dim=1)
        live[src] |= block.any(dim=0)
    return {site: mask.nonzero().flatten() for site, mask in live.items()}


def _module_name(linear: str) -> str:
    """`0.mlp.c_fc` -> the module path `transformer.h.0.mlp.c_fc`."""
    return f"transformer.h.{linear}"


@torch.no_grad()
def reinitialised(model: GPT, seed: int = 0) -> GPT:
    """A copy whose linear layers between node sites (the weights a circuit's edges are made
    of) are fresh random weights on the same sparsity pattern, each matrix and bias at the
    spread of the original's nonzeros. What no node mask covers stays the model's own: the
    embeddings, unembedding, bigram table, logit bias, norms and attention sinks. Otherwise the
    control would also lose the direct token-to-logit paths that decide some tasks, and a
    task the twin then fails says nothing about circuits."""
    copy = GPT(model.config).to(next(model.parameters()).device).eval()
    gen = torch.Generator().manual_seed(seed)
    between_nodes = tuple(f"transformer.h.{linear}." for linear in model.topology.linears())
    originals = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    for name, p in copy.named_parameters():
        src = dense(originals[name])
        if not name.startswith(between_nodes):
            p.copy_(src)
            continue
        nonzero = src != 0
        std = float(src[nonzero].float().std()) if int(nonzero.sum()) > 1 else 0.02
        fresh = torch.randn(p.shape, generator=gen).to(p.device) * std
        p.copy_(fresh * nonzero)
    for name, b in copy.named_buffers():
        b.copy_(originals[name])
    return sparsify(copy) if is_sparse_model(model) else copy


def reinit_control(model, circuit, batch, stream_factory, prune_config: PruneConfig) -> float:
    """Prune a re-initialised twin with the same pruner; its loss at the circuit's size."""
    *_, (_, loss) = iter_reinit_control(model, circuit, batch, stream_factory, prune_config)
    return loss


def iter_reinit_control(model, circuit, batch, stream_factory, prune_config: PruneConfig):
    """reinit_control as a generator: ("progress", fraction done) as it goes, then ("loss", x).
    The twin gets the whole pruner at the circuit's size: learned masks, then the better of
    their ranking's top k and a mask optimised at k."""
    from .means import compute_means

    twin = reinitialised(model, seed=prune_config.seed + 1)
    twin_means = compute_means(twin, stream_factory()) if circuit.ablation == "mean" else None
    config = replace(prune_config, ablation=circuit.ablation)
    pruner = Pruner(twin, batch, twin_means, config)
    total = max(1, config.steps + config.fixed_k_steps)
    for event in pruner.run(k=circuit.n_nodes):
        if event.circuit is not None:
            yield "loss", event.circuit.loss_circuit
        else:
            done = event.step if event.phase == "optimize" else config.steps + event.step
            yield "progress", min(1.0, done / total)


@dataclass(frozen=True)
class CheckProgress:
    """Where the checks are: `check` is running (value None) or has just given `value`."""

    check: str
    done: int  # checks finished so far
    total: int
    value: float | None = None
    fraction: float = 0.0  # how far the running check is (the re-init control is long)

    @property
    def overall(self) -> float:
        """Share of the whole done: the re-init control, which prunes a twin model, takes
        about three quarters of the time, the other checks the rest."""
        quick = self.total - 1
        if self.done < quick:
            return 0.25 * (self.done + self.fraction) / quick
        return 0.25 + 0.75 * (self.fraction if self.done == quick else 1.0)


class CheckResults(dict):
    """The values that CheckProgress events carry, gathered as they pass."""

    def add(self, event: CheckProgress) -> CheckProgress:
        if event.value is not None:
            self[event.check] = event.value
        return event

    def ordered(self) -> dict:
        """{check name: loss} in CHECK_NAMES order."""
        return {k: self[k] for k in CHECK_NAMES}


def iter_checks(
    model,
    circuit: Circuit,
    batch: TaskBatch,
    heldout: TaskBatch,
    means,
    stream_factory,
    prune_config: PruneConfig | None = None,
    draws: int = 20,
):
    """CheckProgress events, one check after another; the last one of each carries its value."""
    prune_config = prune_config or PruneConfig(seed=circuit.seed)
    steps = [
        ("sufficiency_loss", lambda: sufficiency(model, circuit, batch, means)),
        ("necessity_loss", lambda: necessity(model, circuit, batch, means)),
        (
            "random_circuit_loss_mean",
            lambda: random_circuits(model, circuit, batch, means, draws, seed=circuit.seed),
        ),
        ("zero_ablation_loss", lambda: zero_ablation(model, circuit, batch, means)),
        ("heldout_loss", lambda: sufficiency(model, circuit, heldout, means)),
    ]
    total = len(steps) + 1
    for done, (name, measure) in enumerate(steps):
        yield CheckProgress(name, done, total)
        value = measure()
        if name == "random_circuit_loss_mean":
            mean, std = value
            yield CheckProgress("random_circuit_loss_std", done, total, std)
            value = mean
        yield CheckProgress(name, done + 1, total, value)
    name = "reinit_control_loss"
    yield CheckProgress(name, total - 1, total)
    for kind, value in iter_reinit_control(model, circuit, batch, stream_factory, prune_config):
        if kind == "progress":
            yield CheckProgress(name, total - 1, total, fraction=value)
        else:
            yield CheckProgress(name, total, total, value)


def run_checks(
    model,
    circuit: Circuit,
    batch: TaskBatch,
    heldout: TaskBatch,
    means,
    stream_factory,
    prune_config: PruneConfig | None = None,
    draws: int = 20,
) -> dict:
    """Every check at once: {check name: loss}."""
    results = CheckResults()
    for event in iter_checks(model, circuit, batch, heldout, means, stream_factory, prune_config, draws):
        results.add(event)
    return results.ordered()
