"""File ▸ Browse OpenAI circuits: the published `viz/<model>/<task>/<sweep>/<k>/` tree as a
list to pick from, and the chosen sweep's loss against k (as the reference viewer plots it:
log-log, each run's final pruning loss). The sweep's files are read in a worker; opening a
circuit is the session's (with its model, in the background)."""

from __future__ import annotations

import math
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.viz_browse import VizEntry, list_viz, sweep_loss_vs_k

from ..workers import LatestWorker

PATH_ROLE = Qt.UserRole


class VizBrowser(QDialog):
    """Pick one of the circuits under a folder; `chosen(path)` when the user opens one."""

    chosen = Signal(str)

    def __init__(self, root, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"OpenAI circuits in {root}")
        self.entries = list_viz(root)  # raises FileFormatError for a bad folder
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["model / task / pruning sweep / k", "file"])
        self.tree.setColumnHidden(1, True)
        self._fill(self.entries)
        self.plot = pg.PlotWidget(title="circuit loss at each k (our scale: the stored loss halved)")
        self.plot.setLogMode(x=True, y=True)
        self.plot.setLabel("bottom", "k (nodes kept)")
        self.plot.setLabel("left", "task loss")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=7)
        self.marker = self.plot.plot([], [], pen=None, symbol="o", symbolSize=13, symbolBrush="#d62728")
        self.note = QLabel("Choose a circuit.")
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        self.open_button = buttons.button(QDialogButtonBox.Open)
        self.open_button.setEnabled(False)
        buttons.accepted.connect(self._open)
        buttons.rejected.connect(self.reject)
        self.tree.currentItemChanged.connect(lambda item, _: self._on_current(item))
        self.tree.itemDoubleClicked.connect(lambda item, _: self._open() if self._path(item) else None)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.tree)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.plot, 1)
        column.addWidget(self.note)
        split.addWidget(right)
        split.setSizes([320, 480])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        layout.addWidget(buttons)
        self.resize(860, 480)
        self._job = LatestWorker()
        self._sweep: Path | None = None
        self.curve_points: list[tuple[int, float]] = []
        if not self.entries:
            self.note.setText(f"No viz/<model>/<task>/<sweep>/<k>/viz_data.pt under {root}.")

    def _fill(self, entries: list[VizEntry]) -> None:
        parents: dict[tuple, QTreeWidgetItem] = {}
        for e in entries:
            parent = self.tree.invisibleRootItem()
            for depth, name in enumerate((e.model, e.task, e.sweep)):
                key = (e.model, e.task, e.sweep)[: depth + 1]
                if key not in parents:
                    parents[key] = QTreeWidgetItem(parent, [name])
                parent = parents[key]
            leaf = QTreeWidgetItem(parent, [e.k if e.k != "k_optim" else "k_optim (the pruning's choice)"])
            leaf.setData(0, PATH_ROLE, str(e.path))
        if len(entries) <= 200:
            self.tree.expandAll()

    @staticmethod
    def _path(item) -> str | None:
        return item.data(0, PATH_ROLE) if item is not None else None

    def _on_current(self, item) -> None:
        path = self._path(item)
        self.open_button.setEnabled(path is not None)
        if path is None:
            return
        sweep = Path(path).parent.parent
        self._mark(Path(path).parent.name)
        if sweep != self._sweep:
            self._sweep = sweep
            self.curve.setData([], [])
            self.note.setText(f"Reading the losses of {sweep.name}…")
            self._job.start(lambda: _read_curve(sweep), self._on_curve, self._on_failed, None)

    def _on_curve(self, points) -> None:
        if not self._job.is_current(self.sender()):
            return
        self.curve_points = [(k, loss) for k, loss in points if loss > 0]
        if self.curve_points:
            ks, losses = zip(*self.curve_points)
            self.curve.setData(ks, losses)
            # Log axes take their ticks in log10 units: one labelled tick per budget.
            self.plot.getAxis("bottom").setTicks([[(math.log10(k), str(k)) for k in ks]])
            self.note.setText(
                f"{len(ks)} budgets in {self._sweep.name}: loss {max(losses):.3g} at k = {ks[0]} "
                f"down to {min(losses):.3g}. Each is its pruning run's final loss."
            )
        else:
            self.note.setText(f"{self._sweep.name} has no numbered k with a final pruning loss.")
        current = self._path(self.tree.currentItem())
        if current:
            self._mark(Path(current).parent.name)

    def _on_failed(self, message: str) -> None:
        if self._job.is_current(self.sender()):
            self.note.setText(f"Could not read the sweep: {message.splitlines()[0]}")

    def _mark(self, k: str) -> None:
        point = [(x, y) for x, y in self.curve_points if str(x) == k]
        self.marker.setData([p[0] for p in point], [p[1] for p in point])

    def _open(self) -> None:
        path = self._path(self.tree.currentItem())
        if path:
            self.chosen.emit(path)
            self.accept()

    def done(self, result: int) -> None:
        self._job.stop(2000)
        super().done(result)


def _read_curve(sweep: Path):
    yield sweep_loss_vs_k(sweep)
