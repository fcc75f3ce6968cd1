"""What a pipeline reports while it runs: small dataclasses of plain data, safe to hand from a
worker thread to the GUI. Training and pruning also yield their own step events, `TrainEvent`
and `PruneEvent`, re-exported here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..prune import PruneEvent
from ..train import TrainEvent

if TYPE_CHECKING:
    from ..circuit import Circuit
    from ..workbench import Workbench

__all__ = [
    "Status",
    "Progress",
    "ModelOpened",
    "CircuitOpened",
    "TrainingStarted",
    "WeightsSnapshot",
    "Finished",
    "CircuitReady",
    "EffectsBatch",
    "TokensSampled",
    "SampleProgress",
    "NodesSampled",
    "ClassesSampled",
    "TrainEvent",
    "PruneEvent",
]


@dataclass(frozen=True)
class Status:
    """What the job is doing now, for a status line."""

    text: str


@dataclass(frozen=True)
class Progress:
    """A step of a job whose length is known: `done` of `total` (batches, nodes...)."""

    text: str
    done: int
    total: int


@dataclass(frozen=True)
class ModelOpened:
    """A model opened for circuit work, with its means."""

    bench: Workbench


@dataclass(frozen=True)
class CircuitOpened:
    """A circuit read for a model: `bench` is the model it needed, opened on the way, or None
    when it is the model already open."""

    circuit: Circuit
    path: str
    bench: Workbench | None


@dataclass(frozen=True)
class TrainingStarted:
    """The run is set up; its steps follow."""

    preset: str
    n_params: int
    device: str  # described: "cpu", "cuda (NVIDIA H100 ...)"
    data: str  # what was read: "embedded corpus (20051 documents), 4,259,994 tokens"
    start_step: int  # 0, or the step a resumed run continues from
    total_steps: int


@dataclass(frozen=True)
class WeightsSnapshot:
    """|weights| of layer 0's MLP input matrix: a picture of the weights going sparse."""

    array: np.ndarray


@dataclass(frozen=True)
class Finished:
    """A finished training run: its checkpoint folder."""

    path: str


@dataclass(frozen=True)
class CircuitReady:
    """The pruned circuit (with its checks, if they were asked for)."""

    circuit: Circuit


@dataclass(frozen=True)
class EffectsBatch:
    """Ablation effects measured since the last batch: node -> change of the metric."""

    effects: dict[str, float]


@dataclass(frozen=True)
class TokensSampled:
    """The corpus tokens the node inspector samples activations on: [n_seq, seq_len]."""

    ids: np.ndarray


@dataclass(frozen=True)
class SampleProgress:
    done: int  # sequences run so far
    total: int


@dataclass(frozen=True)
class NodesSampled:
    """Activations over the sampled tokens: node -> [n_seq, seq_len] float16."""

    values: dict


@dataclass(frozen=True)
class ClassesSampled:
    """Nodes' activations on a task's two classes: node -> core.class_stats.ClassActivations."""

    values: dict
