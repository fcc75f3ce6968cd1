"""Edges of a large graph, drawn into images of the visible region, off the GUI thread.

Qt's raster engine takes ~0.4 s to stroke 200,000 segments: far too slow to repeat on every
hover, and too slow to do on the GUI thread at all. This item paints the edges into images
when the graph, the threshold or the view range changes (debounced), and otherwise just blits
them, so overlays repaint in a few ms. A small graph is painted at once; a large one is cut
into horizontal bands painted in parallel by worker threads (QPainter on a QImage may run in
any thread, and Qt lets go of Python's lock while it strokes), and shown when all are done.
The newest request wins: a render that is overtaken is dropped.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer, Signal
from PySide6.QtGui import QImage, QPainter, QPainterPath, QTransform

INLINE_SEGMENTS = 20_000  # fewer are painted on the GUI thread (a few ms)
BANDS = max(1, min(8, os.cpu_count() or 1))


def _lower_priority() -> None:
    """Painters yield to the GUI thread when cores are scarce (Linux: per-thread nice)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 5)
    except (AttributeError, OSError):  # not Linux: the default priority
        pass


_POOL = ThreadPoolExecutor(max_workers=BANDS, thread_name_prefix="edges", initializer=_lower_priority)


class EdgeRaster(pg.GraphicsObject):
    rendered = Signal(int, object)  # render number, [(QImage, QRectF)] of its bands

    def __init__(self, view_box: pg.ViewBox):
        super().__init__()
        self.view_box = view_box
        self._paths = _Paths(lambda: ([], True), 0)
        self.bands: list[tuple[QImage, QRectF]] = []
        self.rect = QRectF()
        self.generation = 0  # of the newest render asked for
        self.shown = 0  # generation on screen
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.setInterval(120)
        self.timer.timeout.connect(self.render)
        self.rendered.connect(self._show)
        view_box.sigRangeChanged.connect(lambda *_: self.timer.start())

    def set_layers(self, layers, n_edges: int = 0) -> None:
        """`layers`: [(segment xy [2E, 2], pen)] (then antialiased), or a function giving
        (layers, antialias) that the painter threads call when there are more than
        INLINE_SEGMENTS edges (`n_edges`), so that the GUI thread does not work them out."""
        self._paths = _Paths(layers if callable(layers) else (lambda: (list(layers), True)), n_edges)
        if n_edges <= INLINE_SEGMENTS:
            self._paths.get()
        self.render()

    @property
    def layers(self) -> list:
        """The layers drawn (worked out now if the painters have not yet)."""
        return self._paths.layers()

    @property
    def pending(self) -> bool:
        """A render is under way in the workers."""
        return self.shown != self.generation

    def render(self) -> None:
        """Draw every layer into images covering the visible range plus a margin."""
        self.generation += 1
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        mx, my = 0.25 * (x1 - x0), 0.25 * (y1 - y0)
        rect = QRectF(x0 - mx, y0 - my, x1 - x0 + 2 * mx, y1 - y0 + 2 * my)
        size = self.view_box.size()
        w = max(1, min(4096, int(size.width() * 1.5 * self.device_ratio())))
        h = max(1, min(4096, int(size.height() * 1.5 * self.device_ratio())))
        paths, generation = self._paths, self.generation
        if paths.segments <= INLINE_SEGMENTS or BANDS == 1:
            self._show(generation, [_paint_band(paths, rect, w, h, 0, h)])
            return
        cuts = np.linspace(0, h, BANDS + 1).astype(int)
        futures = [_POOL.submit(_paint_band, paths, rect, w, h, a, b) for a, b in zip(cuts, cuts[1:])]

        def collect(_):
            if all(f.done() for f in futures) and generation == self.generation:
                try:
                    self.rendered.emit(generation, [f.result() for f in futures])
                except RuntimeError:  # the view was closed meanwhile
                    pass

        for f in futures:
            f.add_done_callback(collect)

    def _show(self, generation: int, bands) -> None:
        if generation != self.generation or generation == self.shown:
            return  # overtaken by a newer render, or shown already
        self.prepareGeometryChange()
        self.bands, self.shown = bands, generation
        self.rect = QRectF(bands[0][1]).united(bands[-1][1]) if bands else QRectF()
        self.update()

    @property
    def image(self) -> QImage | None:
        """The edges on screen as one image (for tests and figures)."""
        if not self.bands:
            return None
        if len(self.bands) == 1:
            return self.bands[0][0]
        w = self.bands[0][0].width()
        image = QImage(w, sum(b.height() for b, _ in self.bands), QImage.Format_ARGB32_Premultiplied)
        image.fill(0)
        painter = QPainter(image)
        y = 0
        for band, _ in self.bands:
            painter.drawImage(0, y, band)
            y += band.height()
        painter.end()
        return image

    def device_ratio(self) -> float:
        views = self.scene().views() if self.scene() else []
        return views[0].devicePixelRatioF() if views else 1.0

    def boundingRect(self) -> QRectF:
        return QRectF(self.rect)

    def paint(self, painter, *args) -> None:
        for image, rect in self.bands:
            painter.drawImage(rect, image)


class _Paths:
    """The layers, and the same as painter paths in graph coordinates, worked out once (by
    whichever thread gets there first) and reused by every render until the layers change."""

    def __init__(self, make_layers, segments: int):
        self.make_layers = make_layers
        self.segments = segments
        self._layers: list | None = None
        self.antialias = True
        self._built: list[tuple[QPainterPath, object]] | None = None
        self._lock = threading.Lock()

    def layers(self) -> list:
        self.get()
        return self._layers

    def get(self) -> list[tuple[QPainterPath, object]]:
        with self._lock:
            if self._built is None:
                self._layers, self.antialias = self.make_layers()
                built = []
                for xy, pen in self._layers:
                    path = pg.arrayToQPath(xy[:, 0], xy[:, 1], connect="pairs")
                    path.boundingRect()  # fills the path's lazy caches before threads share it
                    path.controlPointRect()
                    built.append((path, pen))
                self._built = built
            return self._built


def _paint_band(paths: _Paths, rect: QRectF, w: int, h: int, top: int, bottom: int):
    """Rows [top, bottom) of a w x h image of `rect`, as (image, the part of rect it shows)."""
    image = QImage(w, max(1, bottom - top), QImage.Format_ARGB32_Premultiplied)
    image.fill(0)
    x0, y0, sx, sy = rect.x(), rect.y(), w / rect.width(), h / rect.height()
    built = paths.get()
    if built:
        painter = QPainter(image)
        painter.setRenderHint(QPainter.Antialiasing, paths.antialias)
        painter.setTransform(QTransform(sx, 0, 0, sy, -x0 * sx, -y0 * sy - top))
        for path, pen in built:
            painter.setPen(pen)
            painter.drawPath(path)
        painter.end()
    return image, QRectF(x0, y0 + top / sy, rect.width(), (bottom - top) / sy)
