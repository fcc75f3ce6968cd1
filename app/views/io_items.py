"""The graph's inputs and outputs on screen: token squares left of layer 0, answer squares
right of the last layer, their labels and their edges (app/graph_io.py says what they are).

They are few (tens of nodes and edges), so plain pyqtgraph items serve: one curve per sign and
width bucket, one scatter item with a brush per square. They are not model nodes: they cannot
be selected or ablated, and the edge-weight slider leaves their edges alone (their weights are
embedding and unembedding entries, on another scale than the circuit's).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetricsF

from .graph_layout import ANSWER_X, io_layout

WIDTHS = (0.8, 1.6, 2.6, 4.0)
ROW_LABEL_X = -0.04  # the row labels' right edge, in layer units (left of layer 0)
TOKEN_BRUSH = (250, 236, 190)  # tokens are inputs, not activations: a colour of their own
LABEL_COLOUR = (60, 60, 60)


class IOItems:
    def __init__(self, view, palette, positive, negative):
        self.view, self.palette = view, palette
        self.positive, self.negative = positive, negative
        self.io = None
        self.pos = np.zeros((0, 2))
        self.segments = np.zeros((0, 4))
        self.io_end = self.model_end = self.edge_index = np.zeros(0, dtype=np.int64)
        self.layers: list[tuple[np.ndarray, object]] = []  # (segment xy [2E, 2], pen), for export
        self.nodes = pg.ScatterPlotItem(size=13, symbol="s", pen=pg.mkPen(90, 90, 90, 200), pxMode=True)
        self.nodes.setZValue(10)
        self.nodes.setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._token_brush = pg.mkBrush(*TOKEN_BRUSH)
        self._drawn = None  # (positions, colours) the squares were last drawn with
        view.addItem(self.nodes)
        self._curves: list[pg.PlotCurveItem] = []
        self._labels: list[pg.TextItem] = []
        self._pixel = 0.005  # one pixel in data units, as the view's last fit had it

    @property
    def shown(self) -> bool:
        return self.io is not None and len(self.io.names) > 0

    def set(self, graph, io) -> bool:
        """Show `io` (a GraphIO, or None) beside `graph`; when only its colours and tooltips
        changed, only the squares are repainted. True when the nodes or edges changed."""
        same = io is not None and io.same_shape(self.io) and graph is getattr(self, "_graph", None)
        self.io, self._graph = io, graph
        if not same:
            self._rebuild(graph)
        self._draw_nodes()
        return not same

    def _rebuild(self, graph) -> None:
        for item in self._curves + self._labels:
            self.view.removeItem(item)
        self._curves, self._labels, self.layers = [], [], []
        if graph is None or self.io is None or not self.io.names:
            self.pos = np.zeros((0, 2))
            self.segments = np.zeros((0, 4))
            self.io_end = self.model_end = self.edge_index = np.zeros(0, dtype=np.int64)
            return
        self.pos, self.segments, self.io_end, self.model_end, self.edge_index = io_layout(graph, self.io)
        self._draw_items()

    def place_inputs(self, x: float) -> None:
        """Move the inputs' column to `x` (the view fits it beside the row labels)."""
        if not self.shown:
            return
        self.pos[: self.io.n_inputs, 0] = x
        if len(self.segments):
            self.segments[:, :2] = self.pos[self.io_end]
        self._draw_items()
        self._draw_nodes()

    def columns(self, n_layer: int, width_px: float, row_label_px: float) -> tuple[float, float, float]:
        """(left end of the view, the inputs' x, right end) so that, `width_px` wide, the
        inputs' labels, the squares and the row labels stand side by side, and the answers'
        labels fit on the right."""
        metrics = QFontMetricsF(self.view.font())
        k = self.io.n_inputs

        def widest(labels) -> float:
            return max((metrics.horizontalAdvance(line) for t in labels for line in t.split("\n")), default=0)

        left_px, right_px = widest(self.io.labels[:k]) + 26, widest(self.io.labels[k:]) + 26
        gap_px = row_label_px + 16  # from the squares' centres to the row labels' right edge
        span = n_layer * 1.0 + ANSWER_X - ROW_LABEL_X  # from the row labels' right edge to the answers
        per_unit = max(40.0, (width_px - left_px - gap_px - right_px) / span)
        self._pixel = 1.0 / per_unit
        x_in = ROW_LABEL_X - gap_px / per_unit
        return x_in - left_px / per_unit, x_in, span + right_px / per_unit

    def _draw_items(self) -> None:
        for item in self._curves + self._labels:
            self.view.removeItem(item)
        self._curves, self._labels, self.layers = [], [], []
        weight = self.io.weight[self.edge_index] if len(self.edge_index) else np.zeros(0)
        is_input = self.io_end < self.io.n_inputs
        bucket = np.zeros(len(weight), dtype=np.int64)
        for part in (is_input, ~is_input):  # inputs and outputs each scaled by their largest
            if part.any():
                top = np.abs(weight[part]).max()
                bucket[part] = np.minimum(
                    (np.abs(weight[part]) / top * len(WIDTHS)).astype(int), len(WIDTHS) - 1
                )
        for negative in (False, True):
            rgb = self.negative if negative else self.positive
            for b in range(len(WIDTHS)):
                m = ((weight < 0) == negative) & (bucket == b)
                if not m.any():
                    continue
                xy = self.segments[m].reshape(-1, 2)
                pen = pg.mkPen(*rgb, 90 + 40 * b, width=WIDTHS[b])
                curve = pg.PlotCurveItem(xy[:, 0], xy[:, 1], connect="pairs", pen=pen, antialias=True)
                curve.setZValue(2)
                self.view.addItem(curve)
                self._curves.append(curve)
                self.layers.append((xy, pen))
        for k, (label, (x, y)) in enumerate(zip(self.io.labels, self.pos)):
            anchor = (1.0, 0.5) if k < self.io.n_inputs else (0.0, 0.5)
            item = pg.TextItem(label, color=LABEL_COLOUR, anchor=anchor)
            gap = 10 * self._pixel  # beside the square, clear of it
            item.setPos(x - gap if k < self.io.n_inputs else x + gap, y)
            item.setZValue(13)
            self.view.addItem(item)
            self._labels.append(item)

    def brushes(self) -> list:
        """Each square's brush: tokens their own colour, answers by the model's preference."""
        if self.io is None:
            return []
        return [self._token_brush if c < 0 else self.palette[c] for c in self._colour_index()]

    def _draw_nodes(self) -> None:
        if not self.shown:
            self._drawn = None
            self.nodes.setData(pos=np.zeros((0, 2)))
            self.nodes.setVisible(False)
            return
        colours = (self.pos.tobytes(), tuple(self._colour_index()))
        if colours == self._drawn:
            return  # an intervention that moved no colour: nothing to repaint
        self._drawn = colours
        self.nodes.setData(pos=self.pos, brush=self.brushes())
        self.nodes.setVisible(True)

    def _colour_index(self) -> list[int]:
        """Each square's palette entry (-1: a token's own colour)."""
        n = len(self.palette)
        return [
            -1 if k < self.io.n_inputs else int(np.clip(round((v + 1) / 2 * (n - 1)), 0, n - 1))
            for k, v in enumerate(self.io.values)
        ]

    # ---- picking and highlights --------------------------------------------------------------

    def node_at(self, view_xy, pixel_scale, radius_px: float = 9.0) -> int | None:
        if not self.shown:
            return None
        d = (self.pos - np.asarray(view_xy)) / pixel_scale
        dist = np.hypot(d[:, 0], d[:, 1])
        k = int(np.argmin(dist))
        return k if dist[k] <= radius_px else None

    def edge_at(self, view_xy, pixel_scale, radius_px: float = 5.0) -> int | None:
        """The io edge (an index into `io.src`) under the cursor, or None."""
        if not self.shown or not len(self.segments):
            return None
        a, b = self.segments[:, :2] / pixel_scale, self.segments[:, 2:] / pixel_scale
        p = np.asarray(view_xy) / pixel_scale
        ab = b - a
        t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0, 1)
        dist = np.hypot(*(a + t[:, None] * ab - p).T)
        e = int(np.argmin(dist))
        return int(self.edge_index[e]) if dist[e] <= radius_px else None

    def segments_of(self, io_node: int | None = None, model_node: int | None = None) -> np.ndarray:
        """The segments [E, 4] of the edges touching an io node, or a model node."""
        if not len(self.segments):
            return self.segments
        if io_node is not None:
            return self.segments[self.io_end == io_node]
        if model_node is not None:
            return self.segments[self.model_end == model_node]
        return self.segments[:0]
