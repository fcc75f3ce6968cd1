"""Edges of a large graph, drawn once into an image of the visible region.

Qt's raster engine takes ~0.4 s to stroke 200,000 segments, far too slow to repeat on every
hover. This item paints them into a QImage when the graph, the threshold or the view range
changes (debounced), and otherwise just blits that image, so overlays repaint in a few ms.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QImage, QPainter, QTransform


class EdgeRaster(pg.GraphicsObject):
    def __init__(self, view_box: pg.ViewBox):
        super().__init__()
        self.view_box = view_box
        self.layers: list[tuple[np.ndarray, object]] = []  # (segment xy [2E, 2], pen)
        self.antialias = True
        self.image: QImage | None = None
        self.rect = QRectF()
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.setInterval(120)
        self.timer.timeout.connect(self.render)
        view_box.sigRangeChanged.connect(lambda *_: self.timer.start())

    def set_layers(self, layers, antialias: bool = True) -> None:
        self.layers, self.antialias = list(layers), antialias
        self.render()

    def render(self) -> None:
        """Draw every layer into an image covering the visible range plus a margin."""
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        mx, my = 0.25 * (x1 - x0), 0.25 * (y1 - y0)
        x0, x1, y0, y1 = x0 - mx, x1 + mx, y0 - my, y1 + my
        size = self.view_box.size()
        w = max(1, min(4096, int(size.width() * 1.5 * self.device_ratio())))
        h = max(1, min(4096, int(size.height() * 1.5 * self.device_ratio())))
        image = QImage(w, h, QImage.Format_ARGB32_Premultiplied)
        image.fill(0)
        if self.layers:
            painter = QPainter(image)
            painter.setRenderHint(QPainter.Antialiasing, self.antialias)
            painter.setTransform(
                QTransform(w / (x1 - x0), 0, 0, h / (y1 - y0), -x0 * w / (x1 - x0), -y0 * h / (y1 - y0))
            )
            for xy, pen in self.layers:
                painter.setPen(pen)
                painter.drawPath(pg.arrayToQPath(xy[:, 0], xy[:, 1], connect="pairs"))
            painter.end()
        self.prepareGeometryChange()
        self.image, self.rect = image, QRectF(x0, y0, x1 - x0, y1 - y0)
        self.update()

    def device_ratio(self) -> float:
        views = self.scene().views() if self.scene() else []
        return views[0].devicePixelRatioF() if views else 1.0

    def boundingRect(self) -> QRectF:
        return QRectF(self.rect)

    def paint(self, painter, *args) -> None:
        if self.image is not None:
            painter.drawImage(self.rect, self.image)
