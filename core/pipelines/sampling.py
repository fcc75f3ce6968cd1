"""The corpus sample the node inspector shows: every node's activations over a slice of the
corpus the model was trained on."""

from __future__ import annotations

from collections.abc import Iterator

from ..node_stats import sample_corpus
from ..workbench import Workbench
from .events import CorpusSampled, Status


def corpus_sample(bench: Workbench) -> Iterator:
    """A Status, then CorpusSampled."""
    stream = bench.stream(quick=True)
    yield Status("running the model over the corpus…")
    yield CorpusSampled(sample_corpus(bench.model, stream))
