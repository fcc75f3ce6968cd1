"""The Attention view's numbers: one head's pattern on the prompt, from the circuit's kept q/k
channels and from the full head, under the session's interventions (core/attention_view.py).

A small model's head is computed on the GUI thread (~10 ms for the shipped 5M-parameter
model: one forward pass); a model of more than the session's INLINE_MODEL_PARAMS in a worker,
the newest request winning, as the outputs are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from core.attention_view import HeadPattern, circuit_heads, head_of, head_pattern, kept_channels

from .session import INLINE_MODEL_PARAMS
from .workers import LatestWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadRequest:
    layer: int
    head: int
    others: str = "mean"  # what the head's other q/k channels are in the kept pattern
    qk_channels: tuple[int, int] | None = None  # the q and k channel of the q·k map


class HeadAttention(QObject):
    ready = Signal()  # `pattern` (or `error`) is new

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.request: HeadRequest | None = None
        self.pattern: HeadPattern | None = None
        self.error = ""
        self.job = LatestWorker()

    # ---- what the circuit keeps ------------------------------------------------------------

    def heads(self) -> list[tuple[int, int]]:
        """Every head of the open model, in model order."""
        bench = self.session.bench
        if bench is None:
            return []
        cfg = bench.model.config
        return [(layer, head) for layer in range(cfg.n_layer) for head in range(cfg.n_head)]

    def circuit_heads(self) -> list[tuple[int, int]]:
        """The heads the circuit keeps q or k channels of."""
        s = self.session
        return circuit_heads(s.bench.model, s.circuit.nodes) if s.bench and s.circuit else []

    def kept(self, layer: int, head: int) -> tuple[list[int], list[int]]:
        """The circuit's kept q and k channels of a head (none without a circuit)."""
        s = self.session
        if s.bench is None or s.circuit is None:
            return [], []
        return kept_channels(s.bench.model, s.circuit.nodes, layer, head)

    def head_of(self, node: str) -> tuple[int, int] | None:
        """The head of an attn.q / attn.k / attn.v node, else None."""
        try:
            return head_of(self.session.bench.model, node)
        except (ValueError, AttributeError):
            return None

    def default_others(self) -> str:
        """The circuit's own ablation (the paper's circuits mean-ablate what they prune)."""
        c = self.session.circuit
        return c.ablation if c is not None and c.ablation in ("mean", "zero") else "mean"

    # ---- computing -------------------------------------------------------------------------

    def compute(self, request: HeadRequest) -> None:
        """The head's patterns on the prompt; `ready` says when `pattern` is there."""
        self.job.cancel()
        self.request = request
        s = self.session
        if s.bench is None or not s.ids:
            self._set(None, "Open a model and type a prompt.")
            return
        bench = s.bench
        kept_q, kept_k = self.kept(request.layer, request.head)
        ids, interventions = list(s.ids), list(s.interventions)

        def run() -> HeadPattern:
            return head_pattern(
                bench.model, ids, request.layer, request.head, kept_q, kept_k,
                interventions, bench.means, request.others, request.qk_channels,
            )  # fmt: skip

        if bench.n_params <= INLINE_MODEL_PARAMS:
            try:
                self._set(run(), "")
            except ValueError as e:
                self._set(None, str(e))
        else:
            self.pattern = None
            self.job.start(lambda: (run() for _ in range(1)), self._on_done, self._on_failed, None)

    @property
    def computing(self) -> bool:
        return self.job.running()

    def _set(self, pattern: HeadPattern | None, error: str) -> None:
        self.pattern, self.error = pattern, error
        self.ready.emit()

    def _on_done(self, pattern: HeadPattern) -> None:
        if self.job.is_current(self.sender()):
            self.job.release()
            self._set(pattern, "")

    def _on_failed(self, message: str) -> None:
        if self.job.is_current(self.sender()):
            self.job.release()
            log.error("Could not compute the head's attention: %s", message.split("\n\n")[0])
            self._set(None, message.split("\n\n")[0])

    def stop(self, timeout_ms: int = 5000) -> bool:
        return self.job.stop(timeout_ms)
