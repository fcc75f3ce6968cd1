"""The science of `sparse-circuits --self-test`: a few training steps on the device, and the
expected effect of ablating a circuit's strongest edge. The app's self-test runs the first in
a worker and checks that its window shows the second."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..circuit import Circuit
from ..data.corpus import generate_programs
from ..data.sources import TrainingData, default_tokenizer
from ..data.stream import TokenStream
from ..interventions import Intervention
from ..outputs import predict
from ..workbench import Workbench
from .training import TrainingSpec, training

TRAIN_STEPS = 5


def self_test_training(out, device: str | None = None) -> Iterator:
    """The tiny preset for TRAIN_STEPS steps on 60 generated programs (the full corpus takes
    seconds to read): proves that training works on `device`."""
    tokenizer = default_tokenizer()
    stream = TokenStream.from_documents(generate_programs(60, seed=0), tokenizer)
    data = TrainingData(stream, tokenizer, "60 generated programs")
    return training(TrainingSpec(out, "tiny", steps=TRAIN_STEPS, device=device, data=data))


@dataclass(frozen=True)
class EdgeAblation:
    edge: str  # "SRC->DST"
    before: float | None  # the task's logit difference without and with the edge ablated
    after: float | None


def strongest_edge(circuit: Circuit) -> str:
    """The circuit's largest weight (a residual link only when it has no weight edge)."""
    weights = [e for e in circuit.edges if e.get("kind", "weight") == "weight"]
    edge = max(weights or circuit.edges, key=lambda e: abs(e["weight"]))
    return f"{edge['src']}->{edge['dst']}"


def edge_ablation(
    bench: Workbench, circuit: Circuit, ids: list[int], candidates, position: int
) -> EdgeAblation:
    """The circuit's strongest edge mean-ablated on a prompt: the logit difference moves from
    `before` to `after`."""
    edge = strongest_edge(circuit)
    ablated = [Intervention("edge", edge)]
    before, after = (
        predict(
            bench.model, bench.tokenizer, ids, interventions, bench.means, candidates, position
        ).logit_diff
        for interventions in ([], ablated)
    )
    return EdgeAblation(edge, before, after)
