"""Edges of a graph, drawn into an image of the visible region, off the GUI thread when large.

Stroking every edge on every repaint would be far too slow for a large graph, so this item
draws the edges into an image when the graph, the threshold or the view range changes
(debounced), and otherwise just blits it: overlays repaint in a few ms. The layers come in two
kinds (GraphView.edge_layers decides):

- antialiased strokes, for a small graph: painted by QPainter;
- one-pixel hairlines in opaque colours, for a large graph: drawn by hairlines.py, which is
  ~5x faster than Qt's raster engine at it (Qt takes over a second for 200,000 edges).

Up to INLINE_SEGMENTS edges the image is drawn at once on the GUI thread (a few ms). Above, the
layers are worked out by the painter threads (the first to need them) and the image drawn in
parts: every part takes every n-th edge of each layer (antialiased layers: a band of rows), and
the last part to finish merges them and colours the image, shown when ready. The newest
request wins: a render that is overtaken is dropped.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QRectF, QTimer, Signal
from PySide6.QtGui import QImage, QPainter, QPainterPath, QTransform

from ..workers import yield_to_the_gui
from . import hairlines

INLINE_SEGMENTS = 20_000  # fewer are drawn on the GUI thread (a few ms)
BANDS = max(1, min(8, os.cpu_count() or 1))


# Painters yield to the GUI thread when cores are scarce, as every worker does.
_POOL = ThreadPoolExecutor(max_workers=BANDS, thread_name_prefix="edges", initializer=yield_to_the_gui)


def painter_threads() -> int:
    """Painters at once: the cores, less those each torch call may take already (torch's own
    threads), so that the two together do not outnumber the cores."""
    return max(1, BANDS // max(1, torch.get_num_threads()))


class EdgeRaster(pg.GraphicsObject):
    rendered = Signal(int, object)  # render number, [(QImage, QRectF)] of its bands

    def __init__(self, view_box: pg.ViewBox):
        super().__init__()
        self.view_box = view_box
        self._layers = _Layers(lambda: ([], True), 0)
        self.bands: list[tuple[QImage, QRectF]] = []
        self.rect = QRectF()
        self.generation = 0  # of the newest render asked for
        self.shown = 0  # generation on screen
        self._asked: tuple = ()  # what the newest render draws: layers, rect, size
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.setInterval(120)
        self.timer.timeout.connect(self.render)
        self.rendered.connect(self._show)
        view_box.sigRangeChanged.connect(lambda *_: self.timer.start())
        view_box.sigResized.connect(lambda *_: self.timer.start())  # more or fewer pixels

    def set_layers(self, layers, n_edges: int = 0) -> None:
        """`layers`: [(segment xy [2E, 2], pen)] (then antialiased), or a function giving
        (layers, antialias) that the painter threads call when there are more than
        INLINE_SEGMENTS edges (`n_edges`), so that the GUI thread does not work them out.
        Layers not antialiased are drawn as opaque one-pixel lines in their pens' colours."""
        self._layers = _Layers(layers if callable(layers) else (lambda: (list(layers), True)), n_edges)
        if n_edges <= INLINE_SEGMENTS:
            self._layers.get()
        self.render()

    @property
    def layers(self) -> list:
        """The layers drawn (worked out now if the painters have not yet)."""
        return self._layers.get().layers

    @property
    def pending(self) -> bool:
        """A render is under way in the workers."""
        return self.shown != self.generation

    def render(self) -> None:
        """Draw every layer into an image covering the visible range plus a margin (unless
        the newest render draws just that already: a view range set back to what it was)."""
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        mx, my = 0.25 * (x1 - x0), 0.25 * (y1 - y0)
        rect = QRectF(x0 - mx, y0 - my, x1 - x0 + 2 * mx, y1 - y0 + 2 * my)
        size = self.view_box.size()
        w = max(1, min(4096, int(size.width() * 1.5 * self.device_ratio())))
        h = max(1, min(4096, int(size.height() * 1.5 * self.device_ratio())))
        asked = (self._layers, rect.getRect(), w, h)  # _Layers compare by identity
        if asked == self._asked:
            return
        self._asked = asked
        self.generation += 1
        generation = self.generation
        if self._layers.segments <= INLINE_SEGMENTS:
            job = _Render(self._layers, rect, w, h, 1)
            self._show(generation, job.finish([job.part(0)]))
            return
        job = _Render(self._layers, rect, w, h, painter_threads())
        futures = [_POOL.submit(job.part, i) for i in range(job.parts)]
        done, lock = [], threading.Lock()

        def collect(_):
            with lock:  # the last part to finish merges them all
                done.append(None)
                if len(done) < len(futures):
                    return
            if generation != self.generation:
                return  # overtaken: not worth merging
            bands = job.finish([f.result() for f in futures])
            try:
                self.rendered.emit(generation, bands)
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


class _Layers:
    """The layers, worked out once (by whichever thread gets there first) and reused by every
    render until they change: antialiased ones as painter paths in graph coordinates, hairlines
    as segments [E, 4] with a colour table (0: no line; i: layer i - 1)."""

    def __init__(self, make_layers, segments: int):
        self.make_layers = make_layers
        self.segments = segments
        self.layers: list = []
        self.antialias = True
        self.paths: list[tuple[QPainterPath, object]] = []
        self.lines: list[np.ndarray] = []
        self.colours: list[int] = [0]
        self._ready = False
        self._lock = threading.Lock()

    def get(self) -> _Layers:
        with self._lock:
            if not self._ready:
                self.layers, self.antialias = self.make_layers()
                if self.antialias:
                    for xy, pen in self.layers:
                        path = pg.arrayToQPath(xy[:, 0], xy[:, 1], connect="pairs")
                        path.boundingRect()  # fills the path's lazy caches before threads share it
                        path.controlPointRect()
                        self.paths.append((path, pen))
                else:
                    self.lines = [xy.reshape(-1, 4) for xy, _ in self.layers]
                    self.colours = [0] + [pen.color().rgba() for _, pen in self.layers]
                self._ready = True
            return self


class _Render:
    """One picture of the edges: w x h pixels of `rect`, drawn in `parts` (any threads), then
    put together by finish()."""

    def __init__(self, layers: _Layers, rect: QRectF, w: int, h: int, parts: int):
        self.layers, self.rect, self.w, self.h, self.parts = layers, QRectF(rect), w, h, parts

    def part(self, i: int):
        layers = self.layers.get()
        if layers.antialias:  # a band of rows
            cuts = np.linspace(0, self.h, self.parts + 1).astype(int)
            return _paint_band(layers, self.rect, self.w, self.h, cuts[i], cuts[i + 1])
        r = self.rect
        to_pixels = (r.x(), r.y(), self.w / r.width(), self.h / r.height())
        return hairlines.draw([s[i :: self.parts] for s in layers.lines], self.w, self.h, to_pixels)

    def finish(self, parts: list) -> list[tuple[QImage, QRectF]]:
        """[(image, the part of rect it shows)]: the bands, top to bottom."""
        if self.layers.antialias:
            return parts
        stride = (self.w + 3) // 4 * 4  # a QImage's rows start at multiples of 4 bytes
        priority = hairlines.combine(parts, self.w, self.h, stride)
        indexed = QImage(priority.data, self.w, self.h, stride, QImage.Format_Indexed8)
        indexed.setColorTable(self.layers.colours)
        # Qt colours it ~20x faster than numpy would, and the copy owns its pixels.
        return [(indexed.convertToFormat(QImage.Format_ARGB32_Premultiplied), QRectF(self.rect))]


def _paint_band(layers: _Layers, rect: QRectF, w: int, h: int, top: int, bottom: int):
    """Rows [top, bottom) of a w x h image of `rect`, as (image, the part of rect it shows)."""
    image = QImage(w, max(1, bottom - top), QImage.Format_ARGB32_Premultiplied)
    image.fill(0)
    x0, y0, sx, sy = rect.x(), rect.y(), w / rect.width(), h / rect.height()
    if layers.paths:
        painter = QPainter(image)
        painter.setRenderHint(QPainter.Antialiasing, layers.antialias)
        painter.setTransform(QTransform(sx, 0, 0, sy, -x0 * sx, -y0 * sy - top))
        for path, pen in layers.paths:
            painter.setPen(pen)
            painter.drawPath(path)
        painter.end()
    return image, QRectF(x0, y0 + top / sy, rect.width(), (bottom - top) / sy)
