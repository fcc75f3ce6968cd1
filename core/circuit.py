"""A circuit: the nodes a task needs, the weights between them, and how well they do it.

JSON: {"task", "target_loss", "ablation", "n_nodes", "nodes_per_location", "n_edges",
"n_residual_edges", "loss_full", "loss_circuit", "nodes": [...], "edges": [{"src", "dst",
"weight", "kind"}], "loss_vs_k": [[k, loss], ...], ...} where kind is "weight" (a nonzero entry
of a weight matrix) or "residual" (a residual write read by a later layer; its weight is the
reading norm's gain on that channel). `loss_vs_k` is the pruner's search: for every number of
nodes k it evaluated, the task loss of the best k-node circuit it found (core/k_search.py);
files written before it was kept have none.

A circuit's size is counted as the paper counts it: `n_edges` is the weight edges alone;
the residual links are `n_residual_edges`. The counts are derived from `nodes` and `edges`
whenever a circuit is written, and never read back: a file written before the residual links
were counted apart (whose `n_edges` counted both) gets the new counts on loading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import torch

from .fileio import atomic_write_text, read_json
from .schemas import CIRCUIT_FORMAT, CircuitFile, validated
from .sparse import dense_rows
from .topology import LOCATIONS, Node

FORMAT = CIRCUIT_FORMAT


@dataclass
class Circuit:
    task: str
    target_loss: float
    ablation: str
    nodes: list[str]
    edges: list[dict]
    loss_full: float
    loss_circuit: float
    seed: int = 0
    calibration: dict | None = None  # {"scale", "shift"} when calibration was on
    n_examples: int = 0
    checks: dict | None = None
    model: str | None = None  # where the model came from, for the reader
    loss_vs_k: list[list] | None = None  # [[k, loss], ...] of the pruner's search, by k
    extra: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        """Nonzero weights between kept nodes: the paper's count of a circuit's edges."""
        return sum(1 for e in self.edges if e.get("kind", "weight") == "weight")

    @property
    def n_residual_edges(self) -> int:
        """Residual links: a kept write read by a kept later read on the same channel."""
        return sum(1 for e in self.edges if e.get("kind", "weight") == "residual")

    @property
    def nodes_per_location(self) -> dict[str, int]:
        """Kept nodes per location over all layers, every location in SITES order:
        {"attn.act_in": 2, "attn.q": 0, ...}."""
        counts = dict.fromkeys(LOCATIONS, 0)
        for name in self.nodes:
            counts[Node.parse(name).location] += 1
        return counts

    def size_text(self, per_location: bool = True) -> str:
        """'23 nodes (attn.q 3, mlp.post_act 5, ...), 25 weight edges + 4 residual links'; the
        parenthesis only with `per_location`."""
        per = ", ".join(f"{loc} {n}" for loc, n in self.nodes_per_location.items() if n)
        nodes = f"{self.n_nodes} nodes" + (f" ({per})" if per_location and per else "")
        return f"{nodes}, {self.n_edges} weight edges + {self.n_residual_edges} residual links"

    def to_dict(self) -> dict:
        d = {
            "format": FORMAT,
            "task": self.task,
            "target_loss": self.target_loss,
            "ablation": self.ablation,
            "n_nodes": self.n_nodes,
            "nodes_per_location": self.nodes_per_location,
            "n_edges": self.n_edges,
            "n_residual_edges": self.n_residual_edges,
            "loss_full": self.loss_full,
            "loss_circuit": self.loss_circuit,
            "seed": self.seed,
            "calibration": self.calibration,
            "n_examples": self.n_examples,
            "model": self.model,
            "nodes": list(self.nodes),
            "edges": list(self.edges),
        }
        if self.loss_vs_k is not None:
            d["loss_vs_k"] = [list(pair) for pair in self.loss_vs_k]
        if self.checks is not None:
            d["checks"] = self.checks
        d.update(self.extra)
        return d

    def save(self, path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1))

    @classmethod
    def from_dict(cls, d: dict, source: str = "circuit") -> "Circuit":
        """A circuit from its JSON, or a FileFormatError naming `source` and the field."""
        return cls.from_validated(validated(CircuitFile, d, source))

    @classmethod
    def from_validated(cls, f: CircuitFile) -> "Circuit":
        """A circuit from its checked JSON (also reached nested, from a workspace's inline
        circuit). Edges and calibration keep the keys they were written with."""
        return cls(
            task=f.task,
            target_loss=f.target_loss,
            ablation=f.ablation,
            nodes=list(f.nodes),
            edges=[e.model_dump(exclude_unset=True) for e in f.edges],
            loss_full=f.loss_full,
            loss_circuit=f.loss_circuit,
            seed=f.seed,
            calibration=None if f.calibration is None else f.calibration.model_dump(),
            n_examples=f.n_examples,
            checks=f.checks,
            model=f.model,
            loss_vs_k=f.loss_vs_k,
            extra=dict(f.model_extra or {})
            | ({} if f.node_ablation_delta is None else {"node_ablation_delta": dict(f.node_ablation_delta)}),
        )

    @classmethod
    def load(cls, path) -> "Circuit":
        return cls.from_dict(read_json(Path(path), limit=256 << 20), str(path))

    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph(task=self.task)
        for name in self.nodes:
            node = Node.parse(name)
            g.add_node(name, layer=node.layer, location=node.location, index=node.index)
        for e in self.edges:
            g.add_edge(e["src"], e["dst"], weight=e["weight"], kind=e.get("kind", "weight"))
        return g


def extract_edges(model, nodes: list[str]) -> list[dict]:
    """Every nonzero weight between two kept nodes, and every residual write read later."""
    edges = []
    for g in edge_groups(model, nodes):
        kind = "residual" if g.residual else "weight"
        for s, d, w in zip(g.src.tolist(), g.dst.tolist(), g.weight.tolist()):
            edges.append({"src": f"{g.src_site}.{s}", "dst": f"{g.dst_site}.{d}", "weight": w, "kind": kind})
    return edges


@dataclass
class EdgeGroup:
    """The edges from one site to another: channel arrays and weights, [E] each."""

    src_site: str
    dst_site: str
    src: np.ndarray  # source channel of each edge
    dst: np.ndarray  # destination channel
    weight: np.ndarray  # float64
    residual: bool  # a residual link (weight: the reading norm's gain) rather than a weight


@torch.no_grad()
def edge_groups(model, nodes: list[str]) -> list[EdgeGroup]:
    """`extract_edges` as arrays, one group per linear layer and residual link, in the same
    order; vectorised, so that a whole model's hundreds of thousands of edges take
    milliseconds (and never hold Python's lock long)."""
    kept: dict[str, list[int]] = {}
    for name in nodes:
        node = Node.parse(name)
        kept.setdefault(node.site, []).append(node.index)
    groups = []
    for key, src_site, dst_site, offset in model.topology.wire_pairs():
        src, dst = sorted(kept.get(src_site, [])), sorted(kept.get(dst_site, []))
        if not src or not dst:
            continue
        w = model.submodule(key).weight.detach()
        rows = torch.tensor([offset + d for d in dst], device=w.device)
        sub = dense_rows(w, rows).index_select(1, torch.tensor(src, device=w.device)).float().cpu()
        r, c = (sub != 0).nonzero(as_tuple=True)
        groups.append(
            EdgeGroup(
                src_site,
                dst_site,
                np.asarray(src)[c.numpy()],
                np.asarray(dst)[r.numpy()],
                sub[r, c].double().numpy(),
                False,
            )
        )
    for writer, reader, norm_key in model.topology.residual_pairs():
        reads = np.array(sorted(set(kept.get(writer, [])) & set(kept.get(reader, []))), dtype=np.int64)
        if len(reads):
            gain = model.submodule(norm_key).weight.detach().double().cpu().numpy()
            groups.append(EdgeGroup(writer, reader, reads, reads, gain[reads], True))
    return groups
