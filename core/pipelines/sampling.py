"""The node inspector's samples: ~100,000 tokens of the corpus the model was trained on, and
the activations of the nodes asked for over them; and nodes' activations on a task's two
classes, under the user's interventions."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..class_stats import N_EXAMPLES, class_activations, class_pairs
from ..node_stats import node_activations, sample_ids
from ..workbench import Workbench
from .events import ClassesSampled, NodesSampled, SampleProgress, Status, TokensSampled


def corpus_sample(bench: Workbench, ids: np.ndarray | None, nodes: list[str]) -> Iterator:
    """TokensSampled first if `ids` is None (the corpus is read and sampled), then
    SampleProgress per batch and NodesSampled for `nodes`."""
    if ids is None:
        yield Status("reading the corpus…")
        ids = sample_ids(bench.stream(), seq_len=min(128, bench.model.config.block_size))
        yield TokensSampled(ids)
    if nodes:
        yield Status(f"running the model over {ids.size:,} tokens…")
        for item in node_activations(bench.model, ids, list(nodes)):
            yield SampleProgress(*item) if isinstance(item, tuple) else NodesSampled(item)


def class_sample(bench: Workbench, task, nodes: list[str], interventions=(), n_examples: int = N_EXAMPLES):
    """SampleProgress per batch of held-out prompts, then ClassesSampled for `nodes`."""
    yield Status(f"running {task.name}'s held-out pairs…")
    pairs = class_pairs(task, bench.tokenizer, bench.model.config.block_size, n_examples)
    means = bench.means if interventions else None
    for item in class_activations(bench.model, pairs, list(nodes), interventions, means):
        yield SampleProgress(*item) if isinstance(item, tuple) else ClassesSampled(item)
