"""Where each node of a graph is drawn, and the graph's edges as arrays (numpy, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.circuit import extract_edges
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

    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.nodes)}

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
    index = {n: i for i, n in enumerate(nodes)}
    edges = extract_edges(model, nodes)
    return GraphData(
        nodes=nodes,
        pos=layout(nodes, model.config.n_layer),
        src=np.array([index[e["src"]] for e in edges], dtype=np.int64),
        dst=np.array([index[e["dst"]] for e in edges], dtype=np.int64),
        weight=np.array([e["weight"] for e in edges], dtype=np.float64),
        kind=np.array([e["kind"] == "residual" for e in edges], dtype=bool),
        n_layer=model.config.n_layer,
    )


def neighbourhood(model, circuit_nodes: list[str]) -> list[str]:
    """The circuit plus every node joined to it by a weight edge."""
    full = extract_edges(model, model.topology.all_nodes())
    keep = set(circuit_nodes)
    extra = set()
    for e in full:
        if e["kind"] != "weight":
            continue
        if e["src"] in keep:
            extra.add(e["dst"])
        elif e["dst"] in keep:
            extra.add(e["src"])
    return list(keep | extra)
