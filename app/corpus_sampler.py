"""The corpus sample the node inspector shows, taken once per model in a worker thread (it
takes a second or two on a CPU, too long to freeze the window for)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from core.pipelines.events import CorpusSampled
from core.pipelines.sampling import corpus_sample

from .workers import LatestWorker

log = logging.getLogger(__name__)


class CorpusSampler(QObject):
    ready = Signal()
    failed = Signal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.sample = None               # a core.node_stats.CorpusSample of the open model
        self.job = LatestWorker()
        session.model_changed.connect(self._forget)

    def request(self):
        """The sample if it has been taken; else None, and it is being taken."""
        bench = self.session.bench
        if self.sample is None and not self.job.running() and bench is not None:
            self.job.start(lambda: corpus_sample(bench),
                           self._on_item, self._on_error, self._on_finished)
            log.info("Sampling the corpus for the node inspector…")
        return self.sample

    def _forget(self) -> None:
        """A new model: the sample described the old one."""
        self.job.cancel()
        self.sample = None

    def _on_item(self, item) -> None:
        if isinstance(item, CorpusSampled) and self.job.is_current(self.sender()):
            self.sample = item.sample
            self.job.release()
            log.info("Corpus sampled: %d sequences of %d tokens", *item.sample.ids.shape)
            self.ready.emit()

    def _on_error(self, message: str) -> None:
        if self.job.is_current(self.sender()):
            log.error("Sampling the corpus failed: %s", message)
            self.failed.emit(message.split("\n\n")[0])

    def _on_finished(self, completed: bool) -> None:
        if self.job.is_current(self.sender()):
            self.job.release()

    def stop(self, timeout_ms: int = 5000) -> bool:
        return self.job.stop(timeout_ms)
