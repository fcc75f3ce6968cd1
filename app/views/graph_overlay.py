"""The comparison overlay: each node and edge of the graph shown is in both circuits, only in
the open one (A), only in the compared one (B), or in neither (core/compare.py decides; only
weight edges are compared, as the paper counts edges). Colours from Okabe and Ito's palette,
told apart with any colour vision."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg

SHARED, ONLY_A, ONLY_B, NEITHER = range(4)
COLOURS = ((0, 158, 115), (213, 94, 0), (0, 114, 178), (200, 200, 200))  # green, vermilion, blue
NAMES = ("in both", "only A", "only B", "in neither")
WIDTHS = (1.2, 2.2, 3.4)  # by weight: below the median, to the 90th percentile, above


@dataclass(frozen=True)
class Overlay:
    node_class: np.ndarray  # [N] int, per graph node
    edge_class: np.ndarray  # [E] int, per graph edge


def comparison_overlay(graph, comparison) -> Overlay | None:
    """The classes of `graph`'s nodes and edges in `comparison` (None: not comparing)."""
    if graph is None or comparison is None:
        return None
    c = comparison
    of_node = {
        n: k for k, names in enumerate((c.shared_nodes, c.only_a_nodes, c.only_b_nodes)) for n in names
    }
    of_edge = {
        e: k for k, edges in enumerate((c.shared_edges, c.only_a_edges, c.only_b_edges)) for e in edges
    }
    nodes = graph.nodes
    node_class = np.array([of_node.get(n, NEITHER) for n in nodes], dtype=np.int64)
    edge_class = np.array(
        [
            NEITHER if r else of_edge.get((nodes[s], nodes[d]), NEITHER)
            for s, d, r in zip(graph.src, graph.dst, graph.kind)
        ],
        dtype=np.int64,
    )
    return Overlay(node_class, edge_class)


def overlay_edge_layers(g, threshold: float, edge_class: np.ndarray) -> tuple[list, bool]:
    """([(segment xy [2E, 2], pen), ...], antialias): the edges at or above `threshold`, by
    class (neither first, shared last, on top) and weight, like
    GraphView.edge_layers."""
    magnitude = np.abs(g.weight)
    shown = magnitude >= threshold
    cuts = np.quantile(magnitude[shown], [0.5, 0.9]) if shown.any() else np.zeros(2)
    bucket = (magnitude > cuts[0]).astype(np.int64) + (magnitude > cuts[1])
    segments = g.pos[np.stack([g.src, g.dst], axis=1)].reshape(-1, 4)
    large = int(shown.sum()) > 5000
    layers = []
    for k in (NEITHER, ONLY_A, ONLY_B, SHARED):
        for b, width in enumerate(WIDTHS):
            rows = shown & (edge_class == k) & (bucket == b)
            if rows.any():
                # In neither: context (and residual links, which are not compared), kept faint.
                alpha, width = (90, 1.0) if k == NEITHER else (150 + 50 * b, width)
                pen = pg.mkPen(*COLOURS[k], alpha, width=1 if large else width)
                layers.append((segments[rows].reshape(-1, 2), pen))
    return layers, not large


def legend_html(comparison, swatch) -> str:
    """What the overlay's colours mean, with core's counts."""
    c = comparison
    nodes = (len(c.shared_nodes), len(c.only_a_nodes), len(c.only_b_nodes))
    edges = (len(c.shared_edges), len(c.only_a_edges), len(c.only_b_edges))
    parts = [swatch(COLOURS[k], f"{NAMES[k]}: {nodes[k]} nodes, {edges[k]} edges") for k in range(3)]
    return " &nbsp; ".join(parts + [swatch(COLOURS[NEITHER], NAMES[NEITHER])])
