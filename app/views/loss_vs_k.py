"""A circuit's task loss against its number of nodes k, as the pruner's search found it, with
the target loss and the chosen k marked."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt

from core.circuit import Circuit

# k runs from 0 to thousands: x is log10(k + 1), labelled with k itself.
K_TICKS = (0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000)


def k_axis(k: float) -> float:
    return math.log10(k + 1)


def curve_of(circuit: Circuit | None) -> tuple[list, str]:
    """(the circuit's [[k, loss], ...], where it comes from): our pruner's search, or for one of
    OpenAI's circuits its sweep's final pruning loss at each k (halved, our scale)."""
    if circuit is None:
        return [], ""
    if circuit.loss_vs_k:
        return circuit.loss_vs_k, "the search"
    sweep = (circuit.extra.get("openai_viz") or {}).get("loss_vs_k")
    return (sweep, "OpenAI's sweep") if sweep else ([], "")


class LossVsKPlot(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent, title="task loss vs k (nodes kept)")
        self.setLabel("bottom", "k")
        bottom = self.getAxis("bottom")
        bottom.enableAutoSIPrefix(False)  # the labels are k, not the log-scale positions
        bottom.setTicks([[(k_axis(k), f"{k:,}") for k in K_TICKS]])
        self.curve = self.plot(
            pen=pg.mkPen(90, 90, 90, width=1), symbol="o", symbolSize=5, symbolBrush=(60, 120, 200)
        )
        self.chosen = self.plot(pen=None, symbol="o", symbolSize=10, symbolBrush=(210, 60, 40))
        dashed = pg.mkPen(210, 60, 40, width=1, style=Qt.DashLine)
        self.target = pg.InfiniteLine(angle=0, pen=dashed, label="target", labelOpts={"position": 0.1})
        self.k_line = pg.InfiniteLine(angle=90, pen=dashed)
        self.addItem(self.target)
        self.addItem(self.k_line)
        self.show_circuit(None)

    def show_circuit(self, circuit: Circuit | None) -> None:
        """Draw the circuit's curve, or say why there is none."""
        curve, source = curve_of(circuit)
        shown = bool(curve)
        for item in (self.target, self.k_line):
            item.setVisible(shown)
        if not shown:
            self.curve.setData([], [])
            self.chosen.setData([], [])
            self.setTitle("task loss vs k: " + ("no circuit" if circuit is None else "not recorded"))
            return
        self.curve.setData([k_axis(k) for k, _ in curve], [loss for _, loss in curve])
        k = circuit.n_nodes
        self.chosen.setData([k_axis(k)], [circuit.loss_circuit])
        self.k_line.setPos(k_axis(k))
        self.target.setPos(circuit.target_loss)
        self.setTitle(f"task loss vs k (k = {k:,})" + (f", {source}" if source != "the search" else ""))
