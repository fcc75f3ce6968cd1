"""The graph as a figure for a paper: SVG through Qt's own SVG writer (vector edges and
nodes, real text) or PNG at a chosen scale, with a title and legends for edge and node colours.

It draws what the view shows (range, threshold, colours, ablations, selection) from the view's
own data, with a QPainter: the on-screen edges are a cached raster image, which a vector
figure must not embed.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtSvg import QSvgGenerator

from core.fileio import atomic_target
from core.topology import LABEL, LOCATIONS

from ..graph_io import io_legend_text
from .graph import N_COLOURS, NEGATIVE, POSITIVE
from .io_items import TOKEN_BRUSH

PAGE = QSize(1400, 900)  # logical size; PNG pixels = PAGE * scale
TITLE_H, LEGEND_H, MARGIN, LABEL_W = 74, 110, 24, 150


def export_graph(view, path, fmt: str, title: str, subtitle: str = "", scale: float = 2.0) -> None:
    """Write the figure to `path` (whole or not at all). `fmt` is "svg" or "png"."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"unknown figure format {fmt!r} (svg or png)")
    if view.graph is None:
        raise ValueError("there is no graph to export")
    with atomic_target(path) as tmp:
        if fmt == "svg":
            target = QSvgGenerator()
            target.setFileName(str(tmp))
            target.setSize(PAGE)
            target.setViewBox(QRectF(0, 0, PAGE.width(), PAGE.height()))
            target.setTitle(title)
            target.setDescription(subtitle)
        else:
            target = QImage(int(PAGE.width() * scale), int(PAGE.height() * scale), QImage.Format_ARGB32)
            target.setDotsPerMeterX(int(96 * scale / 0.0254))
            target.setDotsPerMeterY(int(96 * scale / 0.0254))
            target.fill(Qt.white)
        painter = QPainter(target)
        try:
            if fmt == "png":
                painter.scale(scale, scale)
            painter.setRenderHint(QPainter.Antialiasing)
            _draw_figure(painter, view, title, subtitle)
        finally:
            painter.end()
        if fmt == "png" and not target.save(str(tmp), "PNG"):
            raise OSError(f"{path}: could not write the PNG")


def _draw_figure(p: QPainter, view, title: str, subtitle: str) -> None:
    w, h = PAGE.width(), PAGE.height()
    p.fillRect(QRectF(0, 0, w, h), Qt.white)
    p.setPen(QColor(20, 20, 20))
    p.setFont(_font(17, bold=True))
    p.drawText(QRectF(MARGIN, 10, w - 2 * MARGIN, 30), Qt.AlignLeft | Qt.AlignVCenter, title)
    p.setFont(_font(11))
    p.setPen(QColor(90, 90, 90))
    p.drawText(QRectF(MARGIN, 40, w - 2 * MARGIN, 26), Qt.AlignLeft | Qt.AlignVCenter, subtitle)
    plot = QRectF(MARGIN + LABEL_W, TITLE_H + 26, w - 2 * MARGIN - LABEL_W, h - TITLE_H - LEGEND_H - 40)
    (x0, x1), (y0, y1) = view.getViewBox().viewRange()

    def to_page(xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy, dtype=float)
        out[:, 0] = plot.left() + (xy[:, 0] - x0) / (x1 - x0) * plot.width()
        out[:, 1] = plot.top() + (y1 - xy[:, 1]) / (y1 - y0) * plot.height()
        return out

    g = view.graph
    p.save()
    p.setClipRect(QRectF(0, TITLE_H, w, h - TITLE_H - LEGEND_H))
    _draw_axes_labels(p, view, plot, to_page)
    for xy, pen in view.edge_raster.layers + view.io_items.layers:
        _draw_segments(p, to_page(xy), QPen(pen))
    cut = view.ablated_edge_item.getData()
    if cut[0] is not None and len(cut[0]):
        dashed = QPen(QColor(40, 40, 40), 2, Qt.DashLine)
        _draw_segments(p, to_page(np.column_stack(cut)), dashed)
    p.setPen(QPen(QColor(90, 90, 90), 1))
    for xy, brush, kind in view.drawn_markers():  # channels; zoomed out, heads and locations too
        p.setBrush(brush)
        for x, y in to_page(xy):
            if kind == "group":
                p.drawRect(QRectF(x - 7.5, y - 7.5, 15, 15))
            else:
                p.drawEllipse(QPointF(x, y), 5.5, 5.5)
    pos = to_page(view.node_pos())
    _draw_io(p, view.io_items, to_page)
    index = g.index()
    p.setPen(QPen(QColor(30, 30, 30), 2))
    for name in view.ablated_nodes:
        if name in index:
            x, y = pos[index[name]]
            p.drawLine(QLineF(x - 4, y - 4, x + 4, y + 4))
            p.drawLine(QLineF(x - 4, y + 4, x + 4, y - 4))
    p.setPen(QPen(QColor(255, 170, 0), 3))
    p.setBrush(Qt.NoBrush)
    for name in view.selected:
        if name in index:
            x, y = pos[index[name]]
            p.drawEllipse(QPointF(x, y), 9.5, 9.5)
    p.restore()
    _draw_legend(p, view, QRectF(MARGIN, h - LEGEND_H, w - 2 * MARGIN, LEGEND_H - 10))


def _draw_axes_labels(p: QPainter, view, plot: QRectF, to_page) -> None:
    p.setFont(_font(11))
    p.setPen(QColor(110, 110, 110))
    for row, location in enumerate(LOCATIONS):
        y = to_page(np.array([[0.0, -row]]))[0, 1]
        p.drawText(
            QRectF(plot.left() - LABEL_W, y - 10, LABEL_W - 10, 20),
            Qt.AlignRight | Qt.AlignVCenter,
            LABEL[location],
        )
    p.setPen(QColor(70, 70, 70))
    for layer in range(view.graph.n_layer):
        x = to_page(np.array([[layer + 0.41, 0.0]]))[0, 0]
        p.drawText(QRectF(x - 60, plot.top() - 26, 120, 20), Qt.AlignCenter, f"layer {layer}")


def _draw_io(p: QPainter, items, to_page) -> None:
    """The inputs and outputs: squares, and their labels beside them (inputs on the left)."""
    if not items.shown:
        return
    pos = to_page(items.pos)
    p.setFont(_font(10))
    for k, ((x, y), brush, label) in enumerate(zip(pos, items.brushes(), items.io.labels)):
        p.setPen(QPen(QColor(90, 90, 90), 1))
        p.setBrush(brush)
        p.drawRect(QRectF(x - 6, y - 6, 12, 12))
        p.setPen(QColor(50, 50, 50))
        left = k < items.io.n_inputs
        box = QRectF(x - 150, y - 20, 140, 40) if left else QRectF(x + 10, y - 20, 140, 40)
        p.drawText(box, (Qt.AlignRight if left else Qt.AlignLeft) | Qt.AlignVCenter, label)


def _draw_segments(p: QPainter, xy: np.ndarray, pen: QPen) -> None:
    p.setPen(pen)
    p.drawLines([QLineF(*xy[i], *xy[i + 1]) for i in range(0, len(xy) - 1, 2)])


def _draw_legend(p: QPainter, view, box: QRectF) -> None:
    p.setFont(_font(10))
    x, y = box.left(), box.top() + 14
    for label, rgb, style in (
        ("positive weight", POSITIVE, Qt.SolidLine),
        ("negative weight", NEGATIVE, Qt.SolidLine),
        ("ablated edge", (40, 40, 40), Qt.DashLine),
    ):
        p.setPen(QPen(QColor(*rgb), 3, style))
        p.drawLine(QLineF(x, y, x + 34, y))
        p.setPen(QColor(50, 50, 50))
        p.drawText(QPointF(x + 42, y + 4), label)
        x += 180
    what = (
        f"node: ablation effect on the {view.effect_metric}"
        if view.effects is not None
        else "node: activation at the chosen token, scaled per location"
    )
    p.drawText(QPointF(x, y + 4), f"{what}:")
    x += p.fontMetrics().horizontalAdvance(what) + 18
    for end, c in (("−", 0), ("0", N_COLOURS // 2), ("+", N_COLOURS - 1)):
        p.setBrush(view.palette_brushes[c])
        p.setPen(QPen(QColor(90, 90, 90), 1))
        p.drawEllipse(QPointF(x + 6, y), 6, 6)
        p.setPen(QColor(50, 50, 50))
        p.drawText(QPointF(x + 16, y + 4), end)
        x += 40
    y += 26
    x = box.left()
    p.setPen(QPen(QColor(30, 30, 30), 2))
    p.drawLine(QLineF(x + 13, y - 4, x + 21, y + 4))
    p.drawLine(QLineF(x + 13, y + 4, x + 21, y - 4))
    p.setPen(QColor(50, 50, 50))
    p.drawText(QPointF(x + 42, y + 4), "ablated node")
    p.setPen(QPen(QColor(255, 170, 0), 3))
    p.setBrush(Qt.NoBrush)
    p.drawEllipse(QPointF(x + 197, y), 8, 8)
    p.setPen(QColor(50, 50, 50))
    p.drawText(QPointF(x + 222, y + 4), "selected node")
    if view.io_items.shown:
        brushes = (QColor(*TOKEN_BRUSH), view.palette_brushes[-1])  # a token, a preferred answer
        for line, brush in zip(io_legend_text(view.io_items.io), brushes):
            y += 24
            p.setPen(QPen(QColor(90, 90, 90), 1))
            p.setBrush(brush)
            p.drawRect(QRectF(x + 11, y - 6, 12, 12))
            p.setPen(QColor(50, 50, 50))
            p.drawText(QPointF(x + 42, y + 4), line)


def _font(points: int, bold: bool = False) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(points + 3)
    font.setBold(bold)
    return font
