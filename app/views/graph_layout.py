"""Where each node of a graph is drawn, and the graph's edges as arrays (numpy, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.circuit import edge_groups
from core.topology import ROW, Node, sort_nodes

LAYER_WIDTH = 1.0  # one column per layer
CELL_FILL = 0.82  # share of the column the nodes spread over


@dataclass
class GraphData:
    nodes: list[str]
    pos: np.ndarray  # [N, 2] float
    src: np.ndarray  # [E] int: index into nodes
    dst: np.ndarray  # [E] int
    weight: np.ndarray  # [E] float
    kind: np.ndarray  # [E] bool: True for residual edges
    n_layer: int
    d_head: int = 0  # the queries', keys' and values' channels per head (0: not known)

    def index(self) -> dict[str, int]:
        """node -> its row in `nodes` (built on first use: ~5 ms for 20,000 nodes, on every
        redraw and selection otherwise). Read it, do not change it."""
        if not hasattr(self, "_index"):
            self._index = {n: i for i, n in enumerate(self.nodes)}
        return self._index

    def by_site(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """site -> (the rows of its nodes in `nodes`, their channels): for reading a site's
        activations for every node at once (built on first use)."""
        if not hasattr(self, "_by_site"):
            groups: dict[str, tuple[list[int], list[int]]] = {}
            for i, name in enumerate(self.nodes):
                node = Node.parse(name)
                rows, channels = groups.setdefault(node.site, ([], []))
                rows.append(i)
                channels.append(node.index)
            self._by_site = {s: (np.array(r), np.array(c)) for s, (r, c) in groups.items()}
        return self._by_site

    def incident(self, node_index: int) -> np.ndarray:
        """Edge indices touching a node (a CSR lookup, built on first use)."""
        if not hasattr(self, "_csr"):
            n = len(self.nodes)
            ends = np.concatenate([self.src, self.dst])
            order = np.argsort(ends, kind="stable")
            self._csr = (np.searchsorted(ends[order], np.arange(n + 1)), order % max(len(self.src), 1))
        ptr, edges = self._csr
        return edges[ptr[node_index] : ptr[node_index + 1]]

    def incident_many(self, node_indices) -> np.ndarray:
        parts = [self.incident(i) for i in node_indices]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def layout(nodes: list[str], n_layer: int) -> np.ndarray:
    """Layer left to right, location as a row (data flow top to bottom); within its cell a
    location's nodes spread evenly in index order."""
    groups: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for i, name in enumerate(nodes):
        node = Node.parse(name)
        groups.setdefault((node.layer, node.location), []).append((node.index, i))
    pos = np.zeros((len(nodes), 2))
    for (layer, location), members in groups.items():
        members.sort()
        n = len(members)
        for rank, (_, i) in enumerate(members):
            pos[i, 0] = layer * LAYER_WIDTH + CELL_FILL * (rank + 0.5) / n
            pos[i, 1] = -ROW[location]
    return pos


def build_graph(model, nodes: list[str]) -> GraphData:
    nodes = sort_nodes(list(dict.fromkeys(nodes)))
    groups = edge_groups(model, nodes)
    # Per site, a lookup from channel to the node's row in `nodes`.
    lookup: dict[str, dict[int, int]] = {}
    for i, name in enumerate(nodes):
        node = Node.parse(name)
        lookup.setdefault(node.site, {})[node.index] = i

    def rows(site: str, channels: np.ndarray) -> np.ndarray:
        table = lookup[site]
        lut = np.full(max(table) + 1, -1, dtype=np.int64)
        lut[list(table)] = list(table.values())
        return lut[channels]

    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    graph = GraphData(
        nodes=nodes,
        pos=layout(nodes, model.config.n_layer),
        src=np.concatenate([rows(g.src_site, g.src) for g in groups] or [empty_i]),
        dst=np.concatenate([rows(g.dst_site, g.dst) for g in groups] or [empty_i]),
        weight=np.concatenate([g.weight for g in groups] or [empty_f]),
        kind=np.concatenate([np.full(len(g.src), g.residual) for g in groups] or [np.zeros(0, dtype=bool)]),
        n_layer=model.config.n_layer,
        d_head=model.config.d_head,
    )
    graph.by_site()  # built here, often in a worker, rather than when the GUI first colours it
    return graph


def neighbourhood(model, circuit_nodes: list[str]) -> list[str]:
    """The circuit plus every node joined to it by a weight edge."""
    keep = set(circuit_nodes)
    extra = set()
    for g in edge_groups(model, model.topology.all_nodes()):
        if g.residual:
            continue
        src = [f"{g.src_site}.{c}" for c in g.src.tolist()]
        dst = [f"{g.dst_site}.{c}" for c in g.dst.tolist()]
        for s, d in zip(src, dst):
            if s in keep:
                extra.add(d)
            elif d in keep:
                extra.add(s)
    return list(keep | extra)


IO_GAP = 1.0  # how far the inputs' column stands left of layer 0 (room for the row labels)
IO_SPACING, IO_LOWEST = 0.8, -7.3  # the inputs' spacing (in rows), and how low they may go
ANSWER_X = -0.05  # the answers' column, from the last layer's right end (its cells end at -0.18)


def io_layout(graph: GraphData, io) -> tuple[np.ndarray, ...]:
    """(positions [K, 2] of the inputs and outputs; and for each edge whose model end is in
    the graph, its segment [E, 4], its io node, its model node, its index in `io`). Inputs
    stand in a column left of layer 0, each as near the rows it feeds as the others let it;
    outputs right of the last layer, beside the rows of the writes."""
    k_in, k_out = io.n_inputs, len(io.names) - io.n_inputs
    where, index = {n: i for i, n in enumerate(io.names)}, graph.index()
    io_end, model_end, keep = [], [], []
    for e, (s, d) in enumerate(zip(io.src, io.dst)):
        if s in where and d in index:
            io_end.append(where[s]), model_end.append(index[d]), keep.append(e)
        elif d in where and s in index:
            io_end.append(where[d]), model_end.append(index[s]), keep.append(e)
    io_end, model_end = np.array(io_end, dtype=np.int64), np.array(model_end, dtype=np.int64)
    pos = np.zeros((len(io.names), 2))
    pos[:k_in, 0] = -IO_GAP
    pos[:k_in, 1] = _spread(
        [
            float(graph.pos[model_end[io_end == k], 1].mean()) if (io_end == k).any() else 0.0
            for k in range(k_in)
        ]
    )
    pos[k_in:, 0] = graph.n_layer * LAYER_WIDTH + ANSWER_X
    pos[k_in:, 1] = -4.5 + 2.0 * (np.arange(k_out) - (k_out - 1) / 2)
    segments = np.concatenate([pos[io_end], graph.pos[model_end]], axis=1) if keep else np.zeros((0, 4))
    return pos, segments, io_end, model_end, np.array(keep, dtype=np.int64)


def _spread(wanted: list[float]) -> np.ndarray:
    """Heights as near `wanted` as IO_SPACING between neighbours allows (the order kept where
    two want the same height), none below IO_LOWEST."""
    order = sorted(range(len(wanted)), key=lambda k: -wanted[k])
    y = np.zeros(len(wanted))
    last = np.inf
    for k in order:
        y[k] = last = min(wanted[k], last - IO_SPACING)
    if len(y) and y.min() < IO_LOWEST:
        y += IO_LOWEST - y.min()
    return y
