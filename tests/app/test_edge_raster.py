"""A large graph's edges are drawn by painter threads, each a share of every layer, into the
same picture one thread draws; a newer render supersedes an older one; a small graph keeps
Qt's antialiased strokes."""

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


def make_view(qtbot, graph):
    view = GraphView()
    view.lod_min_nodes = len(graph.nodes)  # every weight drawn, as zoomed all the way in
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    view.set_graph(graph)
    return view


def test_a_large_graph_is_drawn_off_the_gui_thread_into_the_same_picture(qtbot, monkeypatch):
    monkeypatch.setattr(edge_raster, "painter_threads", lambda: 3)
    graph = synthetic_graph(n_nodes=2000, n_edges=30_000, n_layer=4)
    assert len(graph.src) > edge_raster.INLINE_SEGMENTS
    view = make_view(qtbot, graph)
    assert view.edge_raster.pending  # handed to the painters
    wait_rendered(qtbot, view)
    raster = view.edge_raster
    assert not raster._layers.antialias  # hairlines
    shared = pixels(raster.image)
    assert shared[..., 3].any()  # edges were drawn

    # The same layers drawn by one part on this thread give the same pixels.
    image = raster.image
    job = edge_raster._Render(raster._layers, QRectF(raster.rect), image.width(), image.height(), 1)
    (whole, rect), *_ = job.finish([job.part(0)])
    assert rect == raster.rect
    assert np.array_equal(pixels(whole), shared)
    # Every colour is a layer's (ARGB): lines are not blended.
    argb = pixels(whole).view(np.uint32)[..., 0]
    assert set(np.unique(argb).tolist()) <= set(raster._layers.colours)


def test_a_newer_render_wins(qtbot):
    view = make_view(qtbot, synthetic_graph(n_nodes=2000, n_edges=30_000, n_layer=4))
    first = view.edge_raster.generation
    view.set_threshold(1.0)  # fewer edges (still hairlines), before the first render is shown
    wait_rendered(qtbot, view)
    assert view.edge_raster.shown == view.edge_raster.generation > first
    shown = sum(len(xy) for xy, _ in view.edge_raster.layers) // 2
    assert shown == int((np.abs(view.graph.weight) >= 1.0).sum())


def test_a_graph_is_drawn_once_for_the_range_it_is_shown_in_and_again_when_resized(qtbot):
    view = make_view(qtbot, synthetic_graph(n_nodes=2000, n_edges=30_000, n_layer=4))
    raster = view.edge_raster
    qtbot.wait(3 * raster.timer.interval())  # the range changes it made are behind it
    wait_rendered(qtbot, view)
    assert raster.generation == 1  # the view fitted the graph before its edges were drawn
    (x0, x1), (y0, y1) = view.getViewBox().viewRange()
    assert raster.rect.contains(QRectF(x0, y0, x1 - x0, y1 - y0))
    width = raster.image.width()
    view.resize(900, 400)
    qtbot.waitUntil(lambda: raster.generation == 2, timeout=5_000)
    wait_rendered(qtbot, view)
    assert raster.image.width() > width


def test_a_small_graph_keeps_antialiased_strokes(qtbot):
    view = make_view(qtbot, synthetic_graph(n_nodes=640, n_edges=300, n_layer=2))
    assert not view.edge_raster.pending  # drawn at once
    assert view.edge_raster._layers.antialias
    alpha = pixels(view.edge_raster.image)[..., 3]
    assert ((alpha > 0) & (alpha < 255)).any()  # antialiased, translucent edges
