"""The node inspector's corpus sample: ~100,000 tokens of the corpus the model was trained
on, and the activations of the nodes asked for over them."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..node_stats import node_activations, sample_ids
from ..workbench import Workbench
from .events import NodesSampled, SampleProgress, Status, TokensSampled


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
