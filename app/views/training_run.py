"""The Training run panel: one task's circuit at each kept checkpoint of a run (an
`experiment formation` result), a slider over the steps, and how the circuit shown compares
with the last step's (or the previous step's). The session opens each step's model and circuit;
the graph overlays the two circuits."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

REFERENCES = (("the last step", "last"), ("the previous step", "previous"), ("nothing", "none"))
SLIDE_DELAY_MS = 200  # a step is opened once the slider rests this long


class TrainingRunPanel(QWidget):
    open_requested = Signal()  # the user asked to choose a formation result
    step_requested = Signal(int, str)  # index of the step, reference

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.RichText)
        self.open_button = QPushButton("Open a formation result…")
        self.open_button.setToolTip(
            "The --out folder of `sparse-circuits experiment formation RUN --task TASK`, RUN being "
            "a run trained with --keep-checkpoints"
        )
        self.open_button.clicked.connect(self.open_requested)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setPageStep(1)
        self.step_label = QLabel()
        self.reference = QComboBox()
        for text, key in REFERENCES:
            self.reference.addItem(text, key)
        self.reference.setToolTip("The circuit the one shown is overlaid on in the graph")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)

        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.setLabel("bottom", "training step")
        self.plot.setLabel("left", "circuit size")
        self.plot.addLegend(offset=(-10, 10))
        self.edges_curve = self.plot.plot(
            pen=pg.mkPen(40, 90, 160, width=2), symbol="o", symbolSize=7, name="weight edges"
        )
        self.nodes_curve = self.plot.plot(
            pen=pg.mkPen(200, 120, 40, width=2), symbol="s", symbolSize=6, name="nodes"
        )
        self.missed = pg.ScatterPlotItem(symbol="x", size=12, pen=pg.mkPen(180, 30, 30, width=2))
        self.plot.addItem(self.missed)
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen(255, 170, 0, width=2))
        self.plot.addItem(self.cursor)
        self.plot.setMinimumHeight(120)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SLIDE_DELAY_MS)
        self._timer.timeout.connect(self._request)
        self.slider.valueChanged.connect(self._on_slider)
        self.reference.activated.connect(lambda _: self._request())

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Step"))
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.step_label)
        controls.addSpacing(12)
        controls.addWidget(QLabel("compared with"))
        controls.addWidget(self.reference)
        side = QVBoxLayout()
        side.addWidget(self.title)
        side.addLayout(controls)
        side.addWidget(self.summary)
        side.addStretch(1)
        side.addWidget(self.open_button, 0, Qt.AlignLeft)
        layout = QHBoxLayout(self)
        layout.addLayout(side, 3)
        layout.addWidget(self.plot, 2)
        session.formation_changed.connect(self.refresh)
        session.job_failed.connect(lambda *_: self.refresh())  # a step that did not open
        session.comparison_changed.connect(self._describe_comparison)
        self.refresh()

    # ---- the user ---------------------------------------------------------------------------

    def _on_slider(self, index: int) -> None:
        f = self.session.formation
        if f is not None:
            self._show_step_label(index)
            self.cursor.setValue(f.steps[index].step)
            self._timer.start()

    def _request(self) -> None:
        self._timer.stop()
        if self.session.formation is not None:
            self.step_requested.emit(self.slider.value(), self.reference.currentData())

    # ---- the session ------------------------------------------------------------------------

    def refresh(self) -> None:
        f = self.session.formation
        on = f is not None
        for w in (self.slider, self.reference, self.plot):
            w.setEnabled(on)
        if not on:
            self.title.setText(
                "<i>No training run open. A task's circuit at every kept checkpoint of a run "
                "(<code>sparse-circuits experiment formation</code>) can be stepped through here.</i>"
            )
            self.step_label.setText("")
            self.summary.setText("")
            for curve in (self.edges_curve, self.nodes_curve):
                curve.setData([], [])
            self.missed.setData([], [])
            return
        steps = np.array([s.step for s in f.steps])
        self.edges_curve.setData(steps, [s.n_edges for s in f.steps])
        self.nodes_curve.setData(steps, [s.n_nodes for s in f.steps])
        missed = [s for s in f.steps if not s.reached]
        self.missed.setData([s.step for s in missed], [s.n_edges for s in missed])
        legend = self.plot.plotItem.legend
        legend.removeItem(self.missed)
        if missed:
            legend.addItem(self.missed, "target loss not reached")
        self.title.setText(
            f"<b>{f.task}</b> across the training run <code>{f.run.name}</code>: "
            f"{len(f.steps)} kept checkpoints, each pruned to a target loss of {f.target_loss:g}"
        )
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(f.steps) - 1)
        self.slider.setValue(self.session.formation_index)
        self.slider.blockSignals(False)
        self.reference.setCurrentIndex(self.reference.findData(self.session.formation_reference))
        self.cursor.setValue(f.steps[self.session.formation_index].step)
        self._show_step_label(self.session.formation_index)
        self._describe_comparison()

    def _show_step_label(self, index: int) -> None:
        f = self.session.formation
        self.step_label.setText(f"{f.steps[index].step:,} ({index + 1} of {len(f.steps)})")

    def _describe_comparison(self) -> None:
        f, s = self.session.formation, self.session
        if f is None:
            return
        step = f.steps[s.formation_index]
        here = (
            f"Step {step.step:,}: {step.n_nodes} nodes, {step.n_edges} weight edges, circuit loss "
            f"{step.loss_circuit:.3f} (full model {step.loss_full:.3f})"
            + ("" if step.reached else " <span style='color:#b41e1e'>target not reached</span>")
        )
        c = s.comparison
        if c is None or s.compared_path is None:
            self.summary.setText(here)
            return
        other = next((x.step for x in f.steps if str(x.circuit_path) == s.compared_path), None)
        there = f"step {other:,}" if other is not None else "the compared circuit"
        self.summary.setText(
            f"{here}<br>Against {there}: {len(c.shared_nodes)} nodes shared, "
            f"{len(c.only_a_nodes)} only at step {step.step:,}, {len(c.only_b_nodes)} only at {there}; "
            f"overlap (Jaccard) nodes {c.node_jaccard:.2f}, edges {c.edge_jaccard:.2f}"
        )
