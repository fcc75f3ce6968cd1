"""The circuit graph: nodes by layer and location, edges by sign and weight, live colours.

A large graph is drawn at the level of detail its zoom allows (graph_lod: heads and
locations, opening into channels as the user zooms in).

Drawing stays cheap: edges are drawn in layers (by sign and weight bucket) into one cached
image (EdgeRaster: antialiased strokes for a small graph, opaque hairlines for a large one),
nodes into one ScatterPlotItem per palette colour, and hover or selection highlights are small
overlay items. Picking is numpy on positions.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QMenu, QToolTip

from core.attention_view import HEAD_LOCATIONS
from core.topology import LABEL, LOCATIONS, Node

from .edge_raster import EdgeRaster
from .graph_layout import GraphData
from .graph_lod import (
    LOD_MIN_NODES,
    Detail,
    Groups,
    build_groups,
    detail,
    expanded_cells,
    group_values,
    zoom_to_open,
)
from .graph_overlay import COLOURS as OVERLAY_COLOURS
from .graph_overlay import NAMES as OVERLAY_NAMES
from .graph_overlay import Overlay, overlay_edge_layers
from .io_items import ROW_LABEL_X, IOItems

N_COLOURS = 11  # like ColorBrewer's diverging schemes, which stop at 11 classes
WIDTH_BUCKETS = (0.8, 1.6, 2.6, 4.0)
LARGE_GRAPH_EDGES = 5000
MAX_SHOWN_LABELS = 300
POSITIVE, NEGATIVE = (214, 96, 77), (67, 147, 195)
UNMEASURED = (175, 175, 175)  # an edge whose effect is not measured yet
EFFECT_CUTS = (0.05, 0.25, 0.6)  # of the largest |effect|: an edge's width bucket


def diverging_palette(n: int = N_COLOURS) -> list[pg.QtGui.QBrush]:
    """Blue (negative) through light grey (zero) to red (positive)."""
    mid = np.array([235, 235, 235])
    out = []
    for t in np.linspace(-1, 1, n):
        end = np.array(POSITIVE if t > 0 else NEGATIVE)
        rgb = mid + abs(t) * (end - mid)
        out.append(pg.mkBrush(*rgb.astype(int)))
    return out


def faded(rgb, strength: float, background) -> tuple[int, int, int]:
    """`rgb` mixed into the background: an opaque stand-in for a translucent colour."""
    strength = min(1.0, strength)
    return tuple(int(bg + strength * (c - bg)) for c, bg in zip(rgb, background))


def colour_indices(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] -> indices into the diverging palette."""
    return np.clip(np.round((values + 1) / 2 * (N_COLOURS - 1)), 0, N_COLOURS - 1).astype(np.int64)


def _set_points(item: pg.ScatterPlotItem, pos: np.ndarray) -> None:
    """Markers at `pos` [N, 2]; none to none is skipped (pyqtgraph spends ~2 ms on it)."""
    if len(pos) or len(item.data):
        item.setData(pos=pos)


class GraphView(pg.PlotWidget):
    node_clicked = Signal(str, bool)  # node, add to selection
    ablate_requested = Signal(str, list, str)  # kind, targets, mode
    restore_requested = Signal(list)
    position_hint = Signal(str)
    io_clicked = Signal(str)  # an input's or output's name (they are not model nodes)
    attention_requested = Signal(str)  # an attn.q / attn.k / attn.v node: show its head
    detail_changed = Signal()  # zoomed out or in past a level of detail (the legend changes)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.setAspectLocked(False)
        self.getViewBox().setMouseMode(pg.ViewBox.PanMode)
        self.palette_brushes = diverging_palette()
        self.graph: GraphData | None = None
        self.values = np.zeros(0)
        self.threshold = 0.0
        self.lod_min_nodes = LOD_MIN_NODES  # larger graphs are grouped when zoomed out
        self.can_patch = False  # the prompt has a paired prompt to patch from
        self.ablated_nodes: set[str] = set()
        self.ablated_edges: set[str] = set()
        self.patched: set[str] = set()
        self.selected: list[str] = []
        self.effects: dict[str, float] | None = None  # the ablation-effect overlay, when on
        self.effect_metric = ""
        self.edge_effects: dict[str, float] | None = None  # the edge overlay, when on
        self.edge_effect_metric = ""
        self._labels: list[pg.TextItem] = []
        self.annotations: dict[str, dict] = {}  # the user's node labels and notes
        self._annotation_items: list[pg.TextItem] = []
        self.edge_raster = EdgeRaster(self.getViewBox())
        self.edge_raster.setZValue(1)
        self.addItem(self.edge_raster)
        # One item per colour: a uniform style is pyqtgraph's fast path (a brush per spot
        # costs ~5 us each, 0.1 s for 20,000 nodes, on every recolouring).
        self.node_items = []
        for brush in self.palette_brushes:
            item = pg.ScatterPlotItem(size=11, pen=pg.mkPen(90, 90, 90, 160), brush=brush, pxMode=True)
            item.setZValue(10)
            item.setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            self.addItem(item)
            self.node_items.append(item)
        self.colour_index = np.zeros(0, dtype=np.int64)  # per node, into the palette
        # A large graph zoomed out: its heads and locations as squares (graph_lod), per colour.
        self.groups: Groups | None = None
        self.detail: Detail | None = None  # None: every channel drawn as itself
        self.group_items = []
        for brush in self.palette_brushes:
            item = pg.ScatterPlotItem(
                size=15, symbol="s", pen=pg.mkPen(70, 70, 70, 200), brush=brush, pxMode=True
            )
            item.setZValue(10)
            item.setVisible(False)
            self.addItem(item)
            self.group_items.append(item)
        # A colour override (the comparison of two circuits): nodes and edges by class.
        self.overlay: Overlay | None = None
        self.overlay_items = []
        for rgb in OVERLAY_COLOURS:
            item = pg.ScatterPlotItem(
                size=11, pen=pg.mkPen(60, 60, 60, 160), brush=pg.mkBrush(*rgb), pxMode=True
            )
            item.setZValue(10)
            item.setVisible(False)
            self.addItem(item)
            self.overlay_items.append(item)
        self._drawn_graph = None  # the graph whose nodes the items hold
        self.cross_item = pg.ScatterPlotItem(
            size=13, symbol="x", pen=None, brush=pg.mkBrush(30, 30, 30), pxMode=True
        )
        self.cross_item.setZValue(12)
        self.addItem(self.cross_item)
        self.ring_item = pg.ScatterPlotItem(
            size=19, pen=pg.mkPen(255, 170, 0, width=3), brush=None, pxMode=True
        )
        self.ring_item.setZValue(11)
        self.addItem(self.ring_item)
        self.highlight_item = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(255, 170, 0, width=3))
        self.highlight_item.setZValue(5)
        self.addItem(self.highlight_item)
        self.hover_item = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(255, 200, 60, width=2))
        self.hover_item.setZValue(6)
        self.addItem(self.hover_item)
        self._hovered = None
        self.ablated_edge_item = pg.PlotCurveItem(
            connect="pairs", pen=pg.mkPen(40, 40, 40, width=2, style=Qt.DashLine)
        )
        self.ablated_edge_item.setZValue(7)  # above the selection's highlight: still visible
        self.addItem(self.ablated_edge_item)
        self.io_items = IOItems(self, self.palette_brushes, POSITIVE, NEGATIVE)
        self._fitted = False  # the range is fit()'s: a resize fits again (the inputs' column)
        self.getViewBox().sigRangeChangedManually.connect(lambda *_: setattr(self, "_fitted", False))
        self._setting_graph = False
        self.getViewBox().sigXRangeChanged.connect(lambda *_: self._on_zoom())
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # ---- content ---------------------------------------------------------------------------

    def set_graph(self, graph: GraphData, activations=None, position: int = 0, io=None, overlay=None) -> None:
        """Draw a graph, its nodes coloured by `activations` (see set_activations), or by
        `overlay` (graph_overlay.Overlay: nodes and edges by class) when one is given, with its
        inputs and outputs `io` (app/graph_io.py's GraphIO; None: none)."""
        self.graph = graph
        self.overlay = overlay
        # Grouped when zoomed out, unless it compares circuits or shows inputs and outputs
        # (both are drawn channel by channel).
        large = len(graph.nodes) > self.lod_min_nodes and overlay is None and (io is None or not io.names)
        self.groups = build_groups(graph, graph.d_head) if large else None
        self.detail = None
        self.io_items.set(graph, io)
        self._hovered = None
        self.hover_item.setData(np.zeros(0), np.zeros(0))
        self._draw_labels()  # before fit(), which measures the row labels
        self._setting_graph = True
        try:
            self.fit()  # first: the edges are drawn for the range they will be seen in
        finally:
            self._setting_graph = False
        self._update_detail()
        self.detail_changed.emit()
        self._draw_edges()
        self.set_activations(activations, position)
        self._draw_overlays()
        self._draw_annotations()

    def set_io(self, io) -> None:
        """The graph's inputs and outputs (None: none); the same ones with new colours are
        only repainted."""
        shown = self.io_items.shown
        rebuilt = self.io_items.set(self.graph, io)
        if self.io_items.shown != shown or (rebuilt and self._fitted):
            self.fit()  # their columns come, go or change width

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "_fitted", False) and self.io_items.shown:  # (called from __init__)
            self.fit()

    def set_threshold(self, threshold: float) -> None:
        if threshold == self.threshold:
            return  # set_graph has drawn the edges already
        self.threshold = threshold
        if self.detail is not None:
            self.detail = detail(self.graph, self.groups, self.detail.expanded, threshold)
        self._draw_edges()

    # ---- level of detail -------------------------------------------------------------------

    def _update_detail(self) -> bool:
        """Open or close cells for the current zoom; True if what is drawn changed."""
        if self.groups is None or self.graph is None:
            changed, self.detail = self.detail is not None, None
            return changed
        expanded = expanded_cells(self.groups, 1.0 / self._pixel_scale()[0])
        if self.detail is not None and np.array_equal(expanded, self.detail.expanded):
            return False
        if self.detail is None and expanded.all():
            return False
        self.detail = None if expanded.all() else detail(self.graph, self.groups, expanded, self.threshold)
        return True

    def _on_zoom(self) -> None:
        bundled = self.detail is not None
        if self._setting_graph or self.graph is None or not self._update_detail():
            return
        self._drawn_graph = None  # every node item is filled again
        self._draw_edges()
        self._draw_nodes()
        self._draw_overlays()
        self._draw_annotations()
        self._hovered = None
        self.hover_item.setData(np.zeros(0), np.zeros(0))
        if bundled != (self.detail is not None):
            self.detail_changed.emit()

    def node_pos(self) -> np.ndarray:
        """[N, 2]: where each node is drawn (a node of a closed cell: at its group)."""
        return self.graph.pos if self.detail is None else self.detail.node_pos

    def open_group(self, k: int) -> None:
        """Zoom in on group `k` until its cell shows its channels."""
        x, y = self.groups.pos[k]
        span = (self.getViewBox().width() or 800) / zoom_to_open(self.groups, k)
        (_, _), (y0, y1) = self.getViewBox().viewRange()
        self.getViewBox().setRange(xRange=(x - span / 2, x + span / 2), yRange=(y0, y1), padding=0)

    def show_node(self, name: str) -> None:
        """Centre the view on a node, zoomed in far enough that it is drawn as itself."""
        i = self.graph.index()[name]
        x, y = self.graph.pos[i]
        half = 0.15
        if self.groups is not None:
            k = int(self.groups.group[i])
            half = min(half, (self.getViewBox().width() or 800) / zoom_to_open(self.groups, k) / 2)
        self.getViewBox().setRange(xRange=(x - half, x + half), yRange=(y - 1.5, y + 1.5), padding=0)

    def set_activations(self, activations: dict[str, np.ndarray] | None, position: int) -> None:
        """Colour each node by its activation at `position`, scaled per location."""
        if self.graph is None:
            return
        values = np.zeros(len(self.graph.nodes))
        if activations is not None:
            for site, (rows, channels) in self.graph.by_site().items():
                acts = activations[site][position]
                values[rows] = acts[channels] / (float(np.abs(acts).max()) or 1.0)
        self.values = values
        self.activations, self.position = activations, position
        self._draw_nodes()

    def set_effects(self, effects: dict[str, float] | None, metric: str = "") -> None:
        """Colour nodes by their ablation effect instead of their activation (None: back to
        activations). Nodes not measured yet are drawn neutral."""
        self.effects, self.effect_metric = (dict(effects) if effects is not None else None), metric
        self._draw_nodes()

    def set_edge_effects(self, effects: dict[str, float] | None, metric: str = "") -> None:
        """Colour and widen edges by their ablation effect instead of their weight (None: back
        to weights). Edges not measured yet are drawn thin and grey."""
        self.edge_effects = dict(effects) if effects is not None else None
        self.edge_effect_metric = metric
        self._draw_edges()

    def edge_name(self, e: int) -> str:
        g = self.graph
        return f"{g.nodes[g.src[e]]}->{g.nodes[g.dst[e]]}"

    def _edge_effect_values(self) -> np.ndarray | None:
        """Each edge's effect in graph order (NaN: not measured), or None when the overlay is off."""
        if self.edge_effects is None or self.graph is None:
            return None
        if getattr(self, "_named_graph", None) is not self.graph:  # names built once per graph
            self._edge_names = [self.edge_name(e) for e in range(len(self.graph.src))]
            self._named_graph = self.graph
        get = self.edge_effects.get
        return np.array([get(name, np.nan) for name in self._edge_names], dtype=float)

    def set_can_patch(self, can: bool) -> None:
        self.can_patch = can

    def set_ablations(self, nodes: set[str], edges: set[str], patched: set[str] = frozenset()) -> None:
        """The nodes and edges intervened on (crossed, dashed); `patched`: those of them that
        take their values from the paired prompt rather than being ablated."""
        self.ablated_nodes, self.ablated_edges, self.patched = set(nodes), set(edges), set(patched)
        self._draw_overlays()

    def set_selection(self, nodes: list[str]) -> None:
        self.selected = list(nodes)
        self._draw_overlays()

    def fit(self) -> None:
        if self.graph is not None and len(self.graph.nodes):
            n = self.graph.n_layer
            if self.io_items.shown:  # the inputs' column left of the row labels, in pixels
                label_px = max(
                    (item.boundingRect().width() for item in self._labels[: len(LOCATIONS)]), default=0
                )
                x0, x_in, x1 = self.io_items.columns(n, self.getViewBox().width() or 800, label_px)
                self.io_items.place_inputs(x_in)
                self.setXRange(x0, x1, padding=0)
            else:
                self.setXRange(-0.9, n * 1.0, padding=0.02)
            self._fitted = True
            self.setYRange(-len(LOCATIONS) + 0.4, 0.8, padding=0.02)

    # ---- drawing ---------------------------------------------------------------------------

    def background_rgb(self) -> tuple[int, int, int]:
        colour = self.backgroundBrush().color()
        return colour.red(), colour.green(), colour.blue()

    def _draw_labels(self) -> None:
        if len(self._labels) == len(LOCATIONS) + self.graph.n_layer:
            return  # the same rows and layers: the labels stand
        for item in self._labels:
            self.removeItem(item)
        self._labels = []
        for r, loc in enumerate(LOCATIONS):
            # Filled and on top: the inputs' edges pass behind the row labels, not over them.
            label = pg.TextItem(
                LABEL[loc], color=(110, 110, 110), anchor=(1, 0.5), fill=self.backgroundBrush()
            )
            label.setZValue(3)
            label.setPos(ROW_LABEL_X, -r)
            self.addItem(label)
            self._labels.append(label)
        for layer in range(self.graph.n_layer):
            label = pg.TextItem(f"layer {layer}", color=(80, 80, 80), anchor=(0.5, 1))
            label.setPos(layer + 0.41, 0.55)
            self.addItem(label)
            self._labels.append(label)

    def set_annotations(self, annotations: dict[str, dict]) -> None:
        self.annotations = annotations
        self._draw_annotations()

    def _draw_annotations(self) -> None:
        """Each labelled node of the graph shown gets its label beside it (the first
        MAX_SHOWN_LABELS: more would cover the graph; the tooltip has every one)."""
        for item in self._annotation_items:
            self.removeItem(item)
        self._annotation_items = []
        if self.graph is None:
            return
        index = self.graph.index()
        drawn = None if self.detail is None else self.detail.node_shown
        shown = [
            (n, a["label"])
            for n, a in self.annotations.items()
            if a.get("label") and n in index and (drawn is None or drawn[index[n]])
        ]
        for node, label in shown[:MAX_SHOWN_LABELS]:
            item = pg.TextItem(label, color=(20, 60, 160), anchor=(0, 1.1))
            item.setPos(*self.graph.pos[index[node]])
            item.setZValue(13)
            self.addItem(item)
            self._annotation_items.append(item)

    def _draw_edges(self) -> None:
        g = self.graph
        if g is None or len(g.src) == 0:
            self.edge_raster.set_layers([])
            return
        threshold, background = self.threshold, self.background_rgb()
        if self.overlay is not None:
            classes = self.overlay.edge_class
            self.edge_raster.set_layers(lambda: overlay_edge_layers(g, threshold, classes), len(g.src))
            return
        effects = self._edge_effect_values()
        if self.detail is not None:  # zoomed out: bundles between heads and locations
            d = self.detail
            if effects is not None:  # a bundle's effect is not measured: grey
                effects = np.where(d.origin >= 0, effects[np.maximum(d.origin, 0)], np.nan)
            layers = lambda: self.edge_layers(d, threshold, background, effects)  # noqa: E731
            self.edge_raster.set_layers(layers, len(d.src))
            return
        # A large graph's layers are worked out by the painter threads, not here.
        self.edge_raster.set_layers(lambda: self.edge_layers(g, threshold, background, effects), len(g.src))

    @staticmethod
    def edge_layers(g: GraphData, threshold: float, background, effects=None) -> tuple[list, bool]:
        """([(segment xy [2E, 2], pen), ...] in drawing order, antialias): the edges at or above
        `threshold`, by sign and by weight quartile (numpy and pens only: any thread). With
        `effects` ([E] ablation effects, NaN where not measured), by the effect's sign and its
        share of the largest instead, the unmeasured first, thin and grey."""
        magnitude = np.abs(g.weight)
        shown = magnitude >= threshold
        n_shown = int(shown.sum())
        value = g.weight if effects is None else np.nan_to_num(effects)
        if effects is None:
            top = np.quantile(magnitude[shown], [0.5, 0.8, 0.95]) if n_shown else np.zeros(3)
            size = magnitude
        else:
            size = np.abs(value)
            top = np.array(EFFECT_CUTS) * (float(size.max()) if len(size) else 0.0)
        # Each edge's layer: positive then negative, each by size bucket; then the hidden.
        layer = (value < 0).astype(np.uint8) * len(WIDTH_BUCKETS)
        for t in top:
            layer += size > t
        if effects is not None:  # the unmeasured, drawn first (under the measured)
            layer += 1
            layer[np.isnan(effects)] = 0
        layer[~shown] = 2 * len(WIDTH_BUCKETS) + (effects is not None)
        edges = np.argsort(layer, kind="stable")[:n_shown]  # a radix sort: ~1 ms
        n_layers = 2 * len(WIDTH_BUCKETS) + (effects is not None)
        counts = np.bincount(layer, minlength=n_layers + 1)[:-1].tolist()
        ends = np.take(np.stack([g.src, g.dst], axis=1), edges, axis=0)
        segments = np.take(g.pos, ends, axis=0).reshape(-1, 4)  # x0, y0, x1, y1
        # All edges go into one cached image (see EdgeRaster). A large graph gets opaque
        # hairlines, its weights shown by how far they stand out from the background: they are
        # drawn ~5x faster than Qt strokes them, and antialiased wide strokes cost ~20x more.
        large = n_shown > LARGE_GRAPH_EDGES
        layers, at = [], 0
        for i, count in enumerate(counts):
            xy, at = segments[at : at + count].reshape(-1, 2), at + count
            if not count:
                continue
            if effects is not None and i == 0:
                layers.append((xy, pg.mkPen(*UNMEASURED, 110, width=WIDTH_BUCKETS[0])))
                continue
            i -= effects is not None
            rgb, b = (POSITIVE, NEGATIVE)[i // len(WIDTH_BUCKETS)], i % len(WIDTH_BUCKETS)
            if large:
                pen = pg.mkPen(*faded(rgb, 0.35 + 0.2 * b, background), width=1)
            else:
                pen = pg.mkPen(*rgb, 90 + 40 * b, width=WIDTH_BUCKETS[b])
            layers.append((xy, pen))
        return layers, not large

    def _draw_nodes(self) -> None:
        g = self.graph
        if g is None:
            return
        for k, item in enumerate(self.overlay_items):
            on = self.overlay is not None and bool((self.overlay.node_class == k).any())
            _set_points(item, g.pos[self.overlay.node_class == k] if on else np.zeros((0, 2)))
            item.setVisible(on)
        if self.overlay is not None:
            for item in (*self.node_items, *self.group_items):
                item.setVisible(False)
            self._drawn_graph = None  # the palette's items are redrawn in full after
            return
        values = self.values if self.effects is None else self._effect_values()
        colour = colour_indices(values)
        self._draw_groups(values)
        if self.detail is not None:  # the nodes of closed cells are drawn as their groups
            colour = np.where(self.detail.node_shown, colour, -1)
        if self._drawn_graph is g and len(colour) == len(self.colour_index):
            moved = colour != self.colour_index  # only the colours that gained or lost nodes
            changed = set(colour[moved].tolist()) | set(self.colour_index[moved].tolist())
        else:
            changed = range(N_COLOURS)
        for c in changed:
            if c < 0:
                continue
            pos = g.pos[colour == c]
            self.node_items[c].setData(pos=pos)
            self.node_items[c].setVisible(len(pos) > 0)  # an empty item still costs every paint
        self.colour_index, self._drawn_graph = colour, g

    def _draw_groups(self, values: np.ndarray) -> None:
        """The groups of closed cells, each coloured by its strongest member."""
        d = self.detail
        colour = colour_indices(group_values(self.groups, values)) if d is not None else None
        for c, item in enumerate(self.group_items):
            pos = self.groups.pos[d.group_shown & (colour == c)] if d is not None else np.zeros((0, 2))
            _set_points(item, pos)
            item.setVisible(len(pos) > 0)

    def drawn_markers(self) -> list[tuple[np.ndarray, pg.QtGui.QBrush, str]]:
        """What the node items show: (positions [M, 2], fill, "node" or "group")."""
        out = []
        shown = (("node", self.node_items), ("node", self.overlay_items), ("group", self.group_items))
        for kind, items in shown:
            for item in items:
                if item.isVisible() and len(item.data):
                    xy = np.column_stack([item.data["x"], item.data["y"]])
                    out.append((xy, item.opts["brush"], kind))
        return out

    def node_colours(self) -> list[tuple[int, int, int, int]]:
        """Each node's fill colour (RGBA), in the graph's node order."""
        if self.overlay is not None:
            return [(*OVERLAY_COLOURS[k], 255) for k in self.overlay.node_class]
        rgba = [b.color().getRgb() for b in self.palette_brushes]
        return [rgba[c] for c in self.colour_index]

    def _effect_values(self) -> np.ndarray:
        """Effects scaled by the largest so far, in [-1, 1]; 0 where not measured."""
        values = np.array([self.effects.get(n, 0.0) for n in self.graph.nodes])
        top = float(np.abs(values).max()) if len(values) else 0.0
        return values / top if top > 0 else values

    def _draw_overlays(self) -> None:
        g = self.graph
        if g is None:
            return
        index, pos = g.index(), self.node_pos()
        crossed = [index[n] for n in self.ablated_nodes if n in index]
        _set_points(self.cross_item, pos[crossed])
        chosen = [index[n] for n in self.selected if n in index]
        _set_points(self.ring_item, pos[chosen])
        self.highlight_item.setData(*self._segments(self._incident_edges(chosen)))
        cut = []
        for edge in self.ablated_edges:
            src, _, dst = edge.partition("->")
            if src in index and dst in index:
                hits = self.graph.incident(index[src])
                cut += [e for e in hits if g.dst[e] == index[dst]]
        self.ablated_edge_item.setData(*self._segments(np.array(cut, dtype=np.int64)))

    def _incident_edges(self, node_indices) -> np.ndarray:
        return self.graph.incident_many(node_indices)

    def hover_node(self, i: int | None) -> None:
        """Highlight the edges of the node under the cursor (a small overlay, nothing else)."""
        if i == self._hovered:
            return
        self._hovered = i
        edges = self.graph.incident(i) if i is not None else np.zeros(0, dtype=np.int64)
        io = self.io_items.segments_of(model_node=i) if i is not None else np.zeros((0, 4))
        self._hover_segments(edges, io)

    def hover_group(self, k: int) -> None:
        """Highlight the edges and bundles of a group under the cursor."""
        key = ("group", k)
        if key == self._hovered:
            return
        self._hovered = key
        d, unit = self.detail, len(self.graph.nodes) + k
        hit = np.flatnonzero((d.src == unit) | (d.dst == unit))
        xy = np.empty((2 * len(hit), 2))
        xy[0::2], xy[1::2] = d.pos[d.src[hit]], d.pos[d.dst[hit]]
        self.hover_item.setData(xy[:, 0], xy[:, 1])

    def hover_io(self, k: int | None) -> None:
        """Highlight the edges of the input or output under the cursor."""
        key = ("io", k)
        if key == self._hovered:
            return
        self._hovered = key
        self._hover_segments(np.zeros(0, dtype=np.int64), self.io_items.segments_of(io_node=k))

    def _hover_segments(self, edges: np.ndarray, io_segments: np.ndarray) -> None:
        x, y = self._segments(edges)
        if len(io_segments):
            xy = io_segments.reshape(-1, 2)
            x, y = np.concatenate([x, xy[:, 0]]), np.concatenate([y, xy[:, 1]])
        self.hover_item.setData(x, y)

    def _segments(self, edges: np.ndarray):
        g = self.graph
        if len(edges) == 0:
            return np.zeros(0), np.zeros(0)
        pos = self.node_pos()
        xy = np.empty((2 * len(edges), 2))
        xy[0::2] = pos[g.src[edges]]
        xy[1::2] = pos[g.dst[edges]]
        return xy[:, 0], xy[:, 1]

    # ---- picking ---------------------------------------------------------------------------

    def _pixel_scale(self) -> np.ndarray:
        px = self.getViewBox().viewPixelSize()
        return np.array([px[0] or 1.0, px[1] or 1.0])

    def node_at(self, view_xy, radius_px: float = 9.0) -> int | None:
        """The node drawn as itself under `view_xy` (not one inside a group)."""
        g = self.graph
        if g is None or not len(g.nodes):
            return None
        d = (g.pos - np.asarray(view_xy)) / self._pixel_scale()
        dist = np.hypot(d[:, 0], d[:, 1])
        if self.detail is not None:
            dist[~self.detail.node_shown] = np.inf
        i = int(np.argmin(dist))
        return i if dist[i] <= radius_px else None

    def group_at(self, view_xy, radius_px: float = 10.0) -> int | None:
        """The group (of a closed cell) under `view_xy`."""
        if self.detail is None:
            return None
        d = (self.groups.pos - np.asarray(view_xy)) / self._pixel_scale()
        dist = np.hypot(d[:, 0], d[:, 1])
        dist[~self.detail.group_shown] = np.inf
        k = int(np.argmin(dist))
        return k if dist[k] <= radius_px else None

    def _segment_at(self, pos, src, dst, weight, view_xy, radius_px: float) -> int | None:
        if not len(src):
            return None
        scale = self._pixel_scale()
        a, b = pos[src] / scale, pos[dst] / scale
        p = np.asarray(view_xy) / scale
        ab = b - a
        t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0, 1)
        dist = np.hypot(*(a + t[:, None] * ab - p).T)
        dist[np.abs(weight) < self.threshold] = np.inf
        e = int(np.argmin(dist))
        return e if dist[e] <= radius_px else None

    def edge_at(self, view_xy, radius_px: float = 5.0) -> int | None:
        """The graph's edge under `view_xy`, when it is drawn as itself (not in a bundle)."""
        g = self.graph
        if g is None:
            return None
        if self.detail is None:
            return self._segment_at(g.pos, g.src, g.dst, g.weight, view_xy, radius_px)
        b = self.bundle_at(view_xy, radius_px)
        return int(self.detail.origin[b]) if b is not None and self.detail.origin[b] >= 0 else None

    def bundle_at(self, view_xy, radius_px: float = 5.0) -> int | None:
        """The drawn edge or bundle under `view_xy` (an index into `detail`), zoomed out."""
        d = self.detail
        if d is None:
            return None
        return self._segment_at(d.pos, d.src, d.dst, d.weight, view_xy, radius_px)

    def unit_label(self, u: int) -> str:
        n = len(self.graph.nodes)
        return self.graph.nodes[u] if u < n else self.groups.labels[u - n]

    def describe_group(self, k: int) -> str:
        d, unit = self.detail, len(self.graph.nodes) + k
        n_in = int(d.count[d.dst == unit].sum())
        n_out = int(d.count[d.src == unit].sum())
        text = f"<b>{html.escape(self.groups.labels[k])}</b>: {self.groups.sizes[k]:,} channels"
        text += f"<br>{n_in:,} weights in, {n_out:,} out"
        what, values = (
            ("activation", self.values) if self.effects is None else ("effect", self._effect_values())
        )
        text += f"<br>strongest {what} {group_values(self.groups, values)[k]:+.3f} (scaled)"
        return text + "<br><i>click to zoom in to its channels; right-click to ablate them all</i>"

    def describe_bundle(self, b: int) -> str:
        d = self.detail
        kind = "residual links" if d.kind[b] else "weights"
        a, z = html.escape(self.unit_label(int(d.src[b]))), html.escape(self.unit_label(int(d.dst[b])))
        return (
            f"<b>{a} → {z}</b><br>{d.count[b]:,} {kind}, summed magnitude {abs(d.weight[b]):.3f} "
            f"(net {'negative' if d.weight[b] < 0 else 'positive'})<br><i>zoom in to see them one by one</i>"
        )

    def describe_node(self, i: int) -> str:
        name = self.graph.nodes[i]
        text = f"<b>{name}</b>"
        if name in self.annotations:
            a = self.annotations[name]
            text += f" <i>{html.escape(a['label'])}</i>" if a.get("label") else ""
            text += f"<br>{html.escape(a['note'])}" if a.get("note") else ""
        acts = getattr(self, "activations", None)
        if acts is not None:
            n = Node.parse(name)
            text += f"<br>activation {acts[n.site][self.position, n.index]:+.3f}"
        if self.effects is not None:
            effect = self.effects.get(name)
            text += (
                f"<br>ablation effect on the {self.effect_metric}: {effect:+.3f}"
                if effect is not None
                else "<br>ablation effect: not measured"
            )
        if name in self.ablated_nodes:
            patched = name in self.patched
            text += "<br><i>patched from the paired prompt</i>" if patched else "<br><i>ablated</i>"
        if self.overlay is not None:
            text += f"<br>compared: {OVERLAY_NAMES[self.overlay.node_class[i]]}"
        return text

    def describe_edge(self, e: int) -> str:
        g = self.graph
        kind = "residual" if g.kind[e] else "weight"
        text = f"<b>{g.nodes[g.src[e]]} → {g.nodes[g.dst[e]]}</b><br>{kind} {g.weight[e]:+.4f}"
        if self.edge_effects is not None:
            effect = self.edge_effects.get(self.edge_name(e))
            text += (
                f"<br>ablation effect on the {self.edge_effect_metric}: {effect:+.3f}"
                if effect is not None
                else "<br>ablation effect: not measured"
            )
        if self.edge_name(e) in self.ablated_edges:
            patched = self.edge_name(e) in self.patched
            text += "<br><i>patched from the paired prompt</i>" if patched else "<br><i>ablated</i>"
        return text

    def _on_mouse_moved(self, scene_pos) -> None:
        if self.graph is None:
            return
        view = self.getViewBox().mapSceneToView(scene_pos)
        xy = (view.x(), view.y())
        i = self.node_at(xy)
        k = self.io_items.node_at(xy, self._pixel_scale()) if i is None else None
        if k is not None:
            self.hover_io(k)
            QToolTip.showText(QCursor.pos(), self.io_items.io.details[k], self)
            return
        self.hover_node(i)
        if i is not None:
            QToolTip.showText(QCursor.pos(), self.describe_node(i), self)
            return
        k = self.group_at(xy)
        if k is not None:
            self.hover_group(k)
            QToolTip.showText(QCursor.pos(), self.describe_group(k), self)
            return
        f = self.io_items.edge_at(xy, self._pixel_scale())
        if f is not None:
            io = self.io_items.io
            what = "embedding × norm gain" if io.src[f].startswith("token.") else "ln_f gain × unembedding"
            QToolTip.showText(
                QCursor.pos(), f"<b>{io.src[f]} → {io.dst[f]}</b><br>{what} {io.weight[f]:+.4f}", self
            )
            return
        b = self.bundle_at(xy)
        if b is not None and self.detail.origin[b] < 0:
            QToolTip.showText(QCursor.pos(), self.describe_bundle(b), self)
            return
        e = self.edge_at(xy)
        if e is not None:
            QToolTip.showText(QCursor.pos(), self.describe_edge(e), self)
        else:
            QToolTip.hideText()

    def _on_mouse_clicked(self, event) -> None:
        if self.graph is None:
            return
        view = self.getViewBox().mapSceneToView(event.scenePos())
        xy = (view.x(), view.y())
        i = self.node_at(xy)
        k = self.io_items.node_at(xy, self._pixel_scale()) if i is None else None
        if k is not None:  # an input or output: not a model node, never selected or ablated
            if event.button() == Qt.LeftButton:
                self.io_clicked.emit(self.io_items.io.names[k])
            event.accept()
            return
        group = self.group_at(xy) if i is None else None
        if event.button() == Qt.LeftButton:
            if i is not None:
                self.node_clicked.emit(self.graph.nodes[i], bool(event.modifiers() & Qt.ShiftModifier))
            elif group is not None:
                self.open_group(group)
            return
        if event.button() == Qt.RightButton:
            if group is not None:
                members = [self.graph.nodes[m] for m in self.groups.members(group)]
                self.context_menu("node", members, title=self.groups.labels[group]).exec(QCursor.pos())
            elif i is not None:
                targets = [self.graph.nodes[i]]
                if targets[0] in self.selected and len(self.selected) > 1:
                    targets = list(self.selected)
                self.context_menu("node", targets).exec(QCursor.pos())
            else:
                e = self.edge_at(xy)
                if e is not None:
                    g = self.graph
                    edge = f"{g.nodes[g.src[e]]}->{g.nodes[g.dst[e]]}"
                    self.context_menu("edge", [edge]).exec(QCursor.pos())
            event.accept()

    def context_menu(self, kind: str, targets: list[str], title: str | None = None) -> QMenu:
        """The right-click menu of nodes or edges (shown by the caller); `title`: what they
        are, when not one node or a selection (a group's channels)."""
        menu = QMenu(self)
        label = targets[0] if len(targets) == 1 else f"{len(targets)} selected {kind}s"
        menu.addSection(f"{title} ({len(targets)} {kind}s)" if title else label)
        menu.addAction("Ablate (mean)", lambda: self.ablate_requested.emit(kind, targets, "mean"))
        menu.addAction("Ablate (zero)", lambda: self.ablate_requested.emit(kind, targets, "zero"))
        if self.can_patch:
            menu.addAction(
                "Patch from paired prompt", lambda: self.ablate_requested.emit(kind, targets, "patch")
            )
        restore = menu.addAction("Restore", lambda: self.restore_requested.emit(targets))
        ablated = self.ablated_nodes if kind == "node" else self.ablated_edges
        restore.setEnabled(any(t in ablated for t in targets))
        node = targets[0]
        if kind == "node" and len(targets) == 1 and Node.parse(node).location in HEAD_LOCATIONS:
            menu.addSeparator()
            menu.addAction("Attention of this head…", lambda: self.attention_requested.emit(node))
        return menu
