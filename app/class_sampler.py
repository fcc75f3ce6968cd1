"""The inspector's activations by class, measured in a worker thread: the current task's
held-out pairs run under the user's interventions, for the node asked for and more of the
graph's nodes (one pass serves them all). Kept per (model, task, interventions); a newer
request wins."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from core.class_stats import ClassActivations
from core.pipelines.events import ClassesSampled, SampleProgress
from core.pipelines.sampling import class_sample

from .workers import LatestWorker

log = logging.getLogger(__name__)

PREFETCH = 1024  # graph nodes measured along with the one asked for (a few KB each)
MAX_KEYS = 8  # (task, interventions) combinations kept; the oldest go first


class ClassSampler(QObject):
    ready = Signal()
    progress = Signal(int, int)  # prompts run, of all
    failed = Signal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.cache: dict[tuple, dict[str, ClassActivations]] = {}
        self.wanted: tuple[tuple, set[str]] | None = None  # what the running job measures
        self.job = LatestWorker()
        session.model_changed.connect(self._forget)

    def key(self) -> tuple | None:
        s = self.session
        if s.bench is None or s.task is None:
            return None
        return (s.task, tuple(s.interventions))

    def get(self, node: str) -> ClassActivations | None:
        key = self.key()
        return self.cache.get(key, {}).get(node) if key is not None else None

    def request(self, node: str, also=()) -> ClassActivations | None:
        """The node's activations by class if measured; else None, and they are being measured
        (with up to PREFETCH of `also`)."""
        key = self.key()
        if key is None:
            return None
        if (found := self.get(node)) is not None:
            return found
        if (
            self.job.running()
            and self.wanted is not None
            and self.wanted[0] == key
            and node in self.wanted[1]
        ):
            return None
        done = self.cache.get(key, {})
        more = [n for n in dict.fromkeys(also) if n != node and n not in done]
        nodes = [node] + more[:PREFETCH]
        self.wanted = (key, set(nodes))
        bench, (task, interventions) = self.session.bench, key
        self.job.start(
            lambda: class_sample(bench, task, nodes, list(interventions)),
            self._on_item,
            self._on_error,
            self._on_finished,
        )
        return None

    def _forget(self) -> None:
        self.job.cancel()
        self.cache, self.wanted = {}, None

    def _on_item(self, item) -> None:
        if not self.job.is_current(self.sender()):
            return
        if isinstance(item, SampleProgress):
            self.progress.emit(item.done, item.total)
        elif isinstance(item, ClassesSampled):
            key = self.wanted[0]
            self.cache.setdefault(key, {}).update(item.values)
            for old in list(self.cache)[: max(0, len(self.cache) - MAX_KEYS)]:
                del self.cache[old]
            self.job.release()
            self.wanted = None
            self.ready.emit()

    def _on_error(self, message: str) -> None:
        if self.job.is_current(self.sender()):
            log.error("Measuring activations by class failed: %s", message)
            self.failed.emit(message.split("\n\n")[0])

    def _on_finished(self, completed: bool) -> None:
        if self.job.is_current(self.sender()):
            self.job.release()
            self.wanted = None

    def stop(self, timeout_ms: int = 5000) -> bool:
        return self.job.stop(timeout_ms)
