"""Two circuits side by side: the nodes and edges they share and those only one keeps, with
counts per location and Jaccard overlaps (shared / either). Two tasks, two seeds, ours and
OpenAI's, or one task at two checkpoints; both should come from one model (or, across the
checkpoints of a run, from one shape), else the same name means different channels."""

from __future__ import annotations

from dataclasses import dataclass

from .circuit import Circuit
from .topology import LOCATIONS, Node


@dataclass(frozen=True)
class Comparison:
    a: Circuit
    b: Circuit
    shared_nodes: list[str]
    only_a_nodes: list[str]
    only_b_nodes: list[str]
    shared_edges: list[tuple[str, str]]  # (src, dst), weight edges only: the paper's edges
    only_a_edges: list[tuple[str, str]]
    only_b_edges: list[tuple[str, str]]

    @property
    def node_jaccard(self) -> float:
        return _jaccard(len(self.shared_nodes), len(self.only_a_nodes), len(self.only_b_nodes))

    @property
    def edge_jaccard(self) -> float:
        return _jaccard(len(self.shared_edges), len(self.only_a_edges), len(self.only_b_edges))

    def per_location(self) -> dict[str, tuple[int, int, int]]:
        """{location: (shared, only A, only B)} node counts, every location in SITES order."""
        counts = {loc: [0, 0, 0] for loc in LOCATIONS}
        for column, names in enumerate((self.shared_nodes, self.only_a_nodes, self.only_b_nodes)):
            for name in names:
                counts[Node.parse(name).location][column] += 1
        return {loc: tuple(c) for loc, c in counts.items()}

    def summary(self) -> dict:
        """The counts and overlaps as plain data (`compare --json`)."""
        return {
            "a": _describe(self.a),
            "b": _describe(self.b),
            "nodes": {
                "shared": len(self.shared_nodes),
                "only_a": len(self.only_a_nodes),
                "only_b": len(self.only_b_nodes),
                "jaccard": self.node_jaccard,
            },
            "edges": {
                "shared": len(self.shared_edges),
                "only_a": len(self.only_a_edges),
                "only_b": len(self.only_b_edges),
                "jaccard": self.edge_jaccard,
            },
            "nodes_per_location": {
                loc: dict(zip(("shared", "only_a", "only_b"), c)) for loc, c in self.per_location().items()
            },
            "shared_nodes": self.shared_nodes,
            "only_a_nodes": self.only_a_nodes,
            "only_b_nodes": self.only_b_nodes,
        }


def compare(a: Circuit, b: Circuit) -> Comparison:
    nodes_a, nodes_b = set(a.nodes), set(b.nodes)
    edges_a, edges_b = weight_edges(a), weight_edges(b)
    return Comparison(
        a,
        b,
        _ordered(nodes_a & nodes_b),
        _ordered(nodes_a - nodes_b),
        _ordered(nodes_b - nodes_a),
        sorted(edges_a & edges_b),
        sorted(edges_a - edges_b),
        sorted(edges_b - edges_a),
    )


def weight_edges(circuit: Circuit) -> set[tuple[str, str]]:
    return {(e["src"], e["dst"]) for e in circuit.edges if e.get("kind", "weight") == "weight"}


def _ordered(names: set[str]) -> list[str]:
    return sorted(names, key=lambda n: Node.parse(n).sort_key)


def _jaccard(shared: int, only_a: int, only_b: int) -> float:
    either = shared + only_a + only_b
    return shared / either if either else 1.0


def _describe(c: Circuit) -> dict:
    return {"task": c.task, "model": c.model, "nodes": c.n_nodes, "edges": c.n_edges}
