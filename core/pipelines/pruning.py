"""Prune-and-check, written once for `sparse-circuits prune`, the app's pruning panel and the
default model's build: learn the node masks, search for the smallest circuit reaching the target
loss (core/k_search.py), then (if asked) run the faithfulness checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

from ..checks import CheckProgress, CheckResults, iter_checks
from ..circuit import Circuit
from ..prune import PruneConfig, Pruner
from ..workbench import Workbench
from .events import CircuitReady, Status


def prune_and_check(
    bench: Workbench, task, config: PruneConfig, n_examples: int = 256, checks: bool = False
) -> Iterator:
    """PruneEvents while pruning, a Status before the checks, then CircuitReady. The circuit
    records its model (`default` or the folder) and the model's fingerprint."""
    model = bench.model
    batch = bench.batch(task, n_examples, "train", config.seed)
    circuit = None
    with closing(Pruner(model, batch, bench.means, config, task.name).run()) as events:
        for event in events:
            yield event
            circuit = event.circuit or circuit
    circuit.model = bench.ref
    circuit.extra["model_fingerprint"] = bench.fingerprint
    if circuit.ablation == "mean":
        circuit.extra["means_corpus"] = bench.corpus_description
    if checks:
        yield Status("running the faithfulness checks…")
        results = CheckResults()
        for event in iter_circuit_checks(bench, circuit, task, config, n_examples):
            yield results.add(event)
        circuit.checks = results.ordered()
    yield CircuitReady(circuit)


def iter_circuit_checks(
    bench: Workbench, circuit: Circuit, task, config: PruneConfig, n_examples: int = 256
) -> Iterator[CheckProgress]:
    """The faithfulness checks of `circuit` on the task's training and held-out examples, as
    CheckProgress events (each check's value arrives in the event that finishes it)."""
    batch = bench.batch(task, n_examples, "train", circuit.seed)
    heldout = bench.batch(task, n_examples, "heldout", circuit.seed)
    yield from iter_checks(bench.model, circuit, batch, heldout, bench.means, bench.stream, config)
