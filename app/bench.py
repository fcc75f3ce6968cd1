"""`sparse-circuits bench gui`: the GUI's latencies, measured offscreen in one run (medians).

- intervention_latency_ms: ablating an edge of the default circuit until the outputs panel
  and the graph colours are updated (the forward pass included);
- hover_highlight_ms: highlighting a node's edges in a 20,000-node, 200,000-edge graph and
  repainting the view;
- full_redraw_ms: redrawing that whole graph fit to the view (zoomed out: its cells grouped,
  its edges bundled, see app/views/graph_lod.py), until its edges are on screen;
- redraw_gui_blocked_ms: the part of a full redraw that holds the GUI thread;
- full_redraw_every_weight_ms, redraw_every_weight_gui_blocked_ms: the same with every channel
  and every weight drawn (as zoomed all the way in), the edges painted by worker threads.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np


def synthetic_graph(n_nodes: int = 20_000, n_edges: int = 200_000, n_layer: int = 8, seed: int = 0):
    """A graph shaped like a model's: each edge joins a location to one downstream of it in
    the same layer (reads -> q/k/v -> writes, reads -> neurons -> writes) or a residual write
    to a later layer's read."""
    from core.topology import LOCATIONS, SUBLAYERS, WIRES

    from .views.graph_layout import GraphData, layout

    rng = np.random.default_rng(seed)
    locs = list(LOCATIONS)
    per = n_nodes // (n_layer * len(locs))
    nodes = [f"{layer}.{loc}.{i}" for layer in range(n_layer) for loc in locs for i in range(per)]
    first = {
        (layer, loc): (layer * len(locs) + j) * per for layer in range(n_layer) for j, loc in enumerate(locs)
    }
    (_, attn_write, attn_read, _), (_, mlp_write, mlp_read, _) = SUBLAYERS
    hops = [(w.src, w.dst, 0) for w in WIRES] + [(attn_write, mlp_read, 0), (mlp_write, attn_read, 1)]
    kind = rng.integers(len(hops), size=n_edges)
    layer = rng.integers(n_layer - 1, size=n_edges)
    src = np.empty(n_edges, dtype=np.int64)
    dst = np.empty(n_edges, dtype=np.int64)
    for k, (a, b, step) in enumerate(hops):
        m = kind == k
        src[m] = [first[(int(l), a)] for l in layer[m]] + rng.integers(per, size=int(m.sum()))
        dst[m] = [first[(int(l) + step, b)] for l in layer[m]] + rng.integers(per, size=int(m.sum()))
    return GraphData(
        nodes, layout(nodes, n_layer), src, dst, rng.normal(0, 1, n_edges), kind >= len(WIRES), n_layer
    )


def _timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_gui(repeats: int = 15) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from .views.graph import GraphView
    from .window import MainWindow

    app = QApplication.instance() or QApplication([])

    window = MainWindow()
    window.resize(1500, 900)
    window.show()
    window.session.open_default()
    app.processEvents()
    s = window.session
    g = s.graph
    edge = next(f"{g.nodes[a]}->{g.nodes[b]}" for a, b in zip(g.src, g.dst))

    def ablate_and_restore():
        s.ablate("edge", [edge], "mean")
        app.processEvents()
        s.undo_stack.undo()
        app.processEvents()

    latency = _timed(ablate_and_restore, repeats) / 2

    view = GraphView()
    view.resize(1200, 800)
    view.show()
    big = synthetic_graph()
    view.set_graph(big)
    app.processEvents()
    view.viewport().repaint()
    rng = np.random.default_rng(1)

    def hover():
        view.hover_node(int(rng.integers(len(big.nodes))))
        view.viewport().repaint()

    hover_ms = _timed(hover, repeats)

    def redraw_gui_part():
        view.set_graph(big)
        view.viewport().repaint()

    def redraw():  # until the edges, painted by worker threads, are on screen
        redraw_gui_part()
        while view.edge_raster.pending:
            app.processEvents()
            time.sleep(0.001)
        view.viewport().repaint()

    redraw_ms = _timed(redraw, max(3, repeats // 3))
    blocking_ms = _timed(redraw_gui_part, max(3, repeats // 3))
    bundled = view.detail
    view.lod_min_nodes = len(big.nodes)  # every channel and weight drawn, as zoomed all the way in
    all_ms = _timed(redraw, max(3, repeats // 3))
    all_blocking_ms = _timed(redraw_gui_part, max(3, repeats // 3))
    redraw()  # let the last render finish before the view closes
    window.close()
    view.close()
    return {
        "intervention_latency_ms": latency,
        "hover_highlight_ms": hover_ms,
        "full_redraw_ms": redraw_ms,
        "redraw_gui_blocked_ms": blocking_ms,
        "full_redraw_every_weight_ms": all_ms,
        "redraw_every_weight_gui_blocked_ms": all_blocking_ms,
        "drawn_edges_zoomed_out": len(bundled.src) if bundled is not None else len(big.src),
        "graph_nodes": len(big.nodes),
        "graph_edges": len(big.src),
        "default_circuit_nodes": len(g.nodes),
    }
