"""The node inspector's corpus sample, taken in a worker thread: the tokens once per model, and
each node's activations over them when the inspector first asks for that node, together with
more of the graph's nodes (one forward pass serves them all). A newer request wins."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from core.node_stats import CorpusSample
from core.pipelines.events import NodesSampled, SampleProgress, TokensSampled
from core.pipelines.sampling import corpus_sample

from .workers import LatestWorker

log = logging.getLogger(__name__)

PREFETCH = 256  # graph nodes sampled along with the one asked for
MAX_NODES = 4096  # nodes kept (200 KB each on 100,000 tokens); the oldest go first


class CorpusSampler(QObject):
    ready = Signal()  # more of the sample arrived
    progress = Signal(int, int)  # sequences run, of all
    failed = Signal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.sample: CorpusSample | None = None  # of the open model
        self.wanted: set[str] = set()  # what the running job samples
        self.job = LatestWorker()
        session.model_changed.connect(self._forget)

    def has(self, node: str) -> bool:
        return self.sample is not None and node in self.sample.values

    def request(self, node: str, also=()) -> CorpusSample | None:
        """The sample if it holds `node`; else None, and it is being sampled (with up to
        PREFETCH of `also` that are not sampled yet)."""
        bench = self.session.bench
        if bench is None:
            return None
        if self.has(node):
            return self.sample
        if self.job.running() and node in self.wanted:
            return None
        more = [n for n in dict.fromkeys(also) if n != node and not self.has(n)]
        nodes = [node] + more[:PREFETCH]
        self.wanted = set(nodes)
        ids = self.sample.ids if self.sample is not None else None
        self.job.start(
            lambda: corpus_sample(bench, ids, nodes), self._on_item, self._on_error, self._on_finished
        )
        log.info("Sampling the corpus for %d node%s…", len(nodes), "s" if len(nodes) > 1 else "")
        return None

    def _forget(self) -> None:
        """A new model: the sample described the old one."""
        self.job.cancel()
        self.sample, self.wanted = None, set()

    def _on_item(self, item) -> None:
        if not self.job.is_current(self.sender()):
            return
        if isinstance(item, TokensSampled):
            self.sample = CorpusSample(item.ids)
        elif isinstance(item, SampleProgress):
            self.progress.emit(item.done, item.total)
        elif isinstance(item, NodesSampled):
            values = self.sample.values
            values.update(item.values)
            for old in list(values)[: max(0, len(values) - MAX_NODES)]:
                del values[old]
            self.job.release()
            self.wanted = set()
            log.info("Corpus sampled: %d nodes on %s tokens", len(item.values), f"{self.sample.n_tokens:,}")
            self.ready.emit()

    def _on_error(self, message: str) -> None:
        if self.job.is_current(self.sender()):
            log.error("Sampling the corpus failed: %s", message)
            self.failed.emit(message.split("\n\n")[0])

    def _on_finished(self, completed: bool) -> None:
        if self.job.is_current(self.sender()):
            self.job.release()
            self.wanted = set()

    def stop(self, timeout_ms: int = 5000) -> bool:
        return self.job.stop(timeout_ms)
