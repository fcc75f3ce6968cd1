"""The ablation-effect overlays: how much each circuit node, or each circuit edge, matters to
the model's answer on this prompt, measured in a worker thread and delivered as it goes. One
class serves both (`kind`); the window has one of each.

Anything that makes the numbers stale (another prompt, position, intervention, graph, circuit
or model) stops the run and switches the overlay off.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Signal

from core.data.token_ids import NO_MEANS
from core.pipelines.effects import ablation_effects, effect_metric
from core.pipelines.events import EffectsBatch

from .workers import LatestWorker

log = logging.getLogger(__name__)


def measured_targets(session, kind: str = "node") -> list[str]:
    """What an overlay covers: the circuit's nodes or edges ('src->dst'), or all those shown in
    the neighbours view."""
    if session.circuit is None or session.graph is None:
        return []
    g, neighbours = session.graph, session.graph_mode == "neighbours"
    if kind == "node":
        return list(g.nodes if neighbours else session.circuit.nodes)
    if neighbours:
        return [f"{g.nodes[a]}->{g.nodes[b]}" for a, b in zip(g.src.tolist(), g.dst.tolist())]
    return [f"{e['src']}->{e['dst']}" for e in session.circuit.edges]


class AblationEffects(QObject):
    updated = Signal()  # more effects arrived
    finished = Signal()  # every node has its effect
    stopped = Signal(str)  # the overlay was switched off, and why ("" by the user)

    def __init__(self, session, parent=None, kind: str = "node"):
        super().__init__(parent)
        self.session, self.kind = session, kind
        self.effects: dict[str, float] | None = None  # None: the overlay is off
        self.metric = ""
        self.total = 0
        self.job = LatestWorker()
        reasons = [
            (session.model_changed, "the model changed"),
            (session.circuit_changed, "the circuit changed"),
            (session.graph_changed, "the graph changed"),
            (session.prompt_changed, "the prompt changed"),
            (session.position_changed, "the token position changed"),
            (session.interventions_changed, "the interventions changed"),
        ]
        for signal, reason in reasons:
            signal.connect(lambda reason=reason: self.stop(reason))

    @property
    def running(self) -> bool:
        return self.job.running()

    def start(self) -> str | None:
        """Start measuring; returns why it cannot, or None."""
        s = self.session
        nodes = measured_targets(s, self.kind)
        if not nodes and s.circuit is not None and s.graph is not None:
            return f"The circuit has no {self.kind}s to measure."
        if not nodes:
            return f"Open or prune a circuit first: the overlay covers the circuit's {self.kind}s."
        if s.current is None:
            return "Type a prompt first."
        if not s.bench.reads_text:
            return "The overlay mean-ablates each target, and " + NO_MEANS
        bench = s.bench
        # The GUI's own model: hooks are per thread (core/hooks.py), so no copy is needed.
        args = (
            bench.model,
            bench.tokenizer,
            list(s.ids),
            s.applicable(s.interventions),
            bench.means,
            s.candidates,
            s.position,
            nodes,
        )
        source = s.source_ids
        self.effects, self.total = {}, len(nodes)
        self.metric = effect_metric(s.current)[0]
        self._t0 = time.monotonic()
        self.job.start(
            lambda: ablation_effects(*args, source=source), self._on_item, self._on_error, self._on_finished
        )
        log.info("Ablation effects started: %d %ss, on the %s", len(nodes), self.kind, self.metric)
        self.updated.emit()
        return None

    def stop(self, reason: str = "") -> None:
        if self.effects is None:
            return
        if self.job.running():
            log.info(
                "Ablation effects stopped after %d of %d %ss%s",
                len(self.effects),
                self.total,
                self.kind,
                f": {reason}" if reason else "",
            )
        self.job.cancel()
        self.effects = None
        self.stopped.emit(reason)

    def _on_item(self, item) -> None:
        if not isinstance(item, EffectsBatch) or not self.job.is_current(self.sender()):
            return
        self.effects.update(item.effects)
        complete = len(self.effects) == self.total
        if complete:
            self.job.release()
            took = time.monotonic() - self._t0
            log.info("Ablation effects done: %d %ss in %.1f s", self.total, self.kind, took)
        self.updated.emit()
        if complete and self.effects is not None:  # (a listener may have stopped it)
            self.finished.emit()

    def _on_error(self, message: str) -> None:
        if self.job.is_current(self.sender()):
            log.error("Ablation effects failed: %s", message)
            self.job.release()
            self.stop(f"an error: {message.splitlines()[0]}")

    def _on_finished(self, completed: bool) -> None:
        if self.job.is_current(self.sender()):
            self.job.release()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        self.stop()
        return self.job.stop(timeout_ms)
