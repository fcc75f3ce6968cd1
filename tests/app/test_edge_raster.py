"""A large graph's edges are painted by worker threads, band by band, into the same picture
the GUI thread would paint, and a newer render supersedes an older one."""

import numpy as np
from PySide6.QtCore import QRectF

from app.bench import synthetic_graph
from app.views import edge_raster
from app.views.graph import GraphView


def wait_rendered(qtbot, view):
    qtbot.waitUntil(lambda: not view.edge_raster.pending, timeout=30_000)


def pixels(image) -> np.ndarray:
    image = image.convertToFormat(image.Format.Format_ARGB32)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 4 * image.width()].reshape(image.height(), image.width(), 4).copy()  # own memory


def test_a_large_graph_is_painted_off_the_gui_thread_into_the_same_picture(qtbot, monkeypatch):
    monkeypatch.setattr(edge_raster, "BANDS", 2)
    view = GraphView()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    graph = synthetic_graph(n_nodes=2000, n_edges=30_000, n_layer=4)
    assert len(graph.src) > edge_raster.INLINE_SEGMENTS
    view.set_graph(graph)
    assert view.edge_raster.pending  # handed to the painters
    wait_rendered(qtbot, view)
    raster = view.edge_raster
    assert len(raster.bands) == 2
    banded = pixels(raster.image)
    assert banded[..., 3].any()  # edges were drawn

    # The same layers painted in one piece on this thread give the same pixels.
    rect = QRectF(raster.rect)
    whole, _ = edge_raster._paint_band(
        raster._paths, rect, raster.image.width(), raster.image.height(), 0, raster.image.height()
    )
    differ = (pixels(whole) != banded).any(axis=-1).mean()
    assert differ < 0.001, differ


def test_a_newer_render_wins(qtbot):
    view = GraphView()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    view.set_graph(synthetic_graph(n_nodes=2000, n_edges=30_000, n_layer=4))
    first = view.edge_raster.generation
    view.set_threshold(1.5)  # fewer edges, before the first render is shown
    wait_rendered(qtbot, view)
    assert view.edge_raster.shown == view.edge_raster.generation > first
    shown = sum(len(xy) for xy, _ in view.edge_raster.layers) // 2
    assert shown == int((np.abs(view.graph.weight) >= 1.5).sum())
