"""The inspector's "By class" page: a node's activations on the current task's two classes
(overlaid histograms, each labelled with its class' correct answer) and the histogram of the
paired difference, with the means and how often the pairs differ the same way round."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .text import visible

# Okabe-Ito orange and blue: told apart with any colour vision.
CLASS_COLOURS = ((230, 159, 0), (0, 114, 178))


def _plot(title: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setTitle(title, size="9pt")
    plot.setFixedHeight(150)
    plot.setMinimumWidth(120)
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    return plot


def answer(label: str) -> str:
    return f"<code>{html.escape(visible(label))}</code>"


class ByClassView(QWidget):
    def __init__(self, session, sampler, parent=None):
        super().__init__(parent)
        self.session, self.sampler = session, sampler  # an app.class_sampler.ClassSampler
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.RichText)
        self.classes = _plot("by class, at the last token")
        paper = pg.mkColor(pg.getConfigOption("background"))
        paper.setAlpha(210)
        self.legend = self.classes.addLegend(offset=(-4, 4), labelTextSize="8pt", brush=paper)
        self.difference = _plot("class 1 − class 2, pair by pair")
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.stats.setTextFormat(Qt.RichText)
        self.stats.setTextInteractionFlags(Qt.TextSelectableByMouse)
        for w in (self.header, self.classes, self.difference, self.stats):
            layout.addWidget(w)
        layout.addStretch()
        self.node: str | None = None
        for signal in (session.task_changed, session.interventions_changed):
            signal.connect(self.refresh)
        sampler.ready.connect(self.refresh)
        sampler.progress.connect(self._on_progress)
        sampler.failed.connect(self._on_failed)

    def show_node(self, node: str | None) -> None:
        self.node = node
        self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        """Measured only while the page is shown: a hidden page costs no forward passes."""
        if not self.isVisible():
            return
        s = self.session
        self._clear()
        if self.node is None:
            return
        if s.task is None:
            self.header.setText("<i>Choose a task (Outputs) to see this node on its two classes.</i>")
            return
        graph = s.graph
        found = self.sampler.request(self.node, graph.nodes if graph is not None else ())
        if found is None:
            self.header.setText(f"<i>running {html.escape(s.task.name)}'s held-out pairs…</i>")
            return
        self._draw(found)

    def _clear(self) -> None:
        self.classes.clear()
        self.legend.clear()
        self.difference.clear()
        self.stats.setText("")

    def _draw(self, a) -> None:
        s = self.session
        under = " under your interventions" if s.interventions else ""
        self.header.setText(
            f"<b>{html.escape(s.task.name)}</b>: {len(a.class1)} held-out pairs; the node at the "
            f"answer position (each prompt's last token){under}. Class 1: the prompt whose answer "
            f"is {answer(a.labels[0])}; class 2: its twin, answered {answer(a.labels[1])}."
        )
        edges = np.histogram_bin_edges(np.concatenate([a.class1, a.class2]), bins=30)
        for values, label, colour in zip((a.class1, a.class2), a.labels, CLASS_COLOURS):
            counts, _ = np.histogram(values, bins=edges)
            curve = pg.PlotDataItem(
                edges,
                counts,
                stepMode="center",
                fillLevel=0,
                pen=pg.mkPen(colour, width=2),
                brush=(*colour, 70),
                name=visible(label),
            )
            self.classes.addItem(curve)
        diff = a.diff
        counts, dedges = np.histogram(diff, bins=30)
        self.difference.addItem(
            pg.BarGraphItem(x0=dedges[:-1], x1=dedges[1:], height=counts, brush=(120, 120, 120))
        )
        self.difference.addItem(pg.InfiniteLine(0, angle=90, pen=pg.mkPen((0, 0, 0, 120), style=Qt.DashLine)))
        mean1, mean2, mean_diff = float(a.class1.mean()), float(a.class2.mean()), float(diff.mean())
        higher = "class 1 higher" if (diff > 0).sum() >= (diff < 0).sum() else "class 2 higher"
        self.stats.setText(
            f"mean {answer(a.labels[0])} {mean1:+.3f}, {answer(a.labels[1])} {mean2:+.3f}; "
            f"difference {mean_diff:+.3f} on average (sd {float(diff.std()):.3f})<br>"
            f"<b>{a.separation:.0%}</b> of pairs differ the same way round ({higher})"
        )

    def _on_progress(self, done: int, total: int) -> None:
        if self.node is not None and self.sampler.get(self.node) is None and self.session.task is not None:
            self.header.setText(
                f"<i>running {html.escape(self.session.task.name)}'s held-out pairs… {done / total:.0%}</i>"
            )

    def _on_failed(self, message: str) -> None:
        if self.node is not None:
            self.header.setText(f"<i>Could not run the task's pairs: {html.escape(message)}</i>")
