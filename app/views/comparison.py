"""The bar above the graph while two circuits are compared: which they are, the counts and
Jaccard overlaps (core/compare.py's), and Stop comparing."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from .graph_overlay import legend_html


def swatch(rgb, text: str) -> str:
    return f"<span style='color:rgb{tuple(rgb)}'>●</span>&nbsp;{text}"


def describe(circuit, path) -> str:
    where = Path(path).name if path else "not saved"
    step = Path(path).parent.name.removeprefix("step-") if path else ""
    if step.isdigit():  # one of a training run's steps (`experiment formation`)
        where = f"step {int(step):,}, {where}"
    return f"{html.escape(circuit.task)} circuit, {circuit.n_nodes} nodes ({html.escape(where)})"


class ComparisonBar(QWidget):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.text = QLabel()
        self.text.setTextFormat(Qt.RichText)
        self.text.setWordWrap(True)
        self.text.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.stop = QPushButton("Stop comparing")
        self.stop.clicked.connect(session.stop_comparing)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.stop, 0, Qt.AlignTop)
        session.comparison_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        c, s = self.session.comparison, self.session
        self.setVisible(c is not None)
        if c is None:
            self.text.setText("")
            return
        self.text.setText(
            f"<b>Comparing</b> A: {describe(c.a, s.circuit_path)} with B: "
            f"{describe(c.b, s.compared_path)}. <b>Jaccard overlap</b>: nodes {c.node_jaccard:.2f}, "
            f"weight edges {c.edge_jaccard:.2f}<br>{legend_html(c, swatch)}"
        )
