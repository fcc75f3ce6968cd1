"""A circuit: the nodes a task needs, the weights between them, and how well they do it.

JSON: {"task", "target_loss", "ablation", "n_nodes", "n_edges", "loss_full", "loss_circuit",
"nodes": [...], "edges": [{"src", "dst", "weight", "kind"}], ...} where kind is "weight" (a
nonzero entry of a weight matrix) or "residual" (a residual write read by a later layer; its
weight is the reading norm's gain on that channel).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import torch

from .fileio import FileFormatError, atomic_write_text, read_json
from .hooks import split_node_name

FORMAT = "sparse-circuits-circuit"


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
    calibration: dict | None = None      # {"scale", "shift"} when calibration was on
    n_examples: int = 0
    checks: dict | None = None
    model: str | None = None             # where the model came from, for the reader
    extra: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    def to_dict(self) -> dict:
        d = {"format": FORMAT, "task": self.task, "target_loss": self.target_loss,
             "ablation": self.ablation, "n_nodes": self.n_nodes, "n_edges": self.n_edges,
             "loss_full": self.loss_full, "loss_circuit": self.loss_circuit, "seed": self.seed,
             "calibration": self.calibration, "n_examples": self.n_examples,
             "model": self.model, "nodes": list(self.nodes), "edges": list(self.edges)}
        if self.checks is not None:
            d["checks"] = self.checks
        d.update(self.extra)
        return d

    def save(self, path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1))

    @classmethod
    def from_dict(cls, d: dict, source: str = "circuit") -> "Circuit":
        required = ("task", "target_loss", "ablation", "nodes", "edges", "loss_full", "loss_circuit")
        missing = [k for k in required if k not in d]
        if missing:
            raise FileFormatError(f"{source}: missing field(s) {', '.join(missing)}")
        if not isinstance(d["nodes"], list) or not all(isinstance(n, str) for n in d["nodes"]):
            raise FileFormatError(f"{source}: 'nodes' must be a list of node names")
        for n in d["nodes"]:
            try:
                split_node_name(n)
            except ValueError as e:
                raise FileFormatError(f"{source}: {e}") from None
        edges = d["edges"]
        if not isinstance(edges, list) or not all(
                isinstance(e, dict) and {"src", "dst", "weight"} <= set(e) for e in edges):
            raise FileFormatError(f"{source}: 'edges' must be a list of {{src, dst, weight}}")
        known = {"format", "n_nodes", "n_edges", "seed", "calibration", "n_examples", "checks",
                 "model", *required}
        return cls(task=d["task"], target_loss=float(d["target_loss"]), ablation=d["ablation"],
                   nodes=list(d["nodes"]), edges=[dict(e) for e in edges],
                   loss_full=float(d["loss_full"]), loss_circuit=float(d["loss_circuit"]),
                   seed=int(d.get("seed", 0)), calibration=d.get("calibration"),
                   n_examples=int(d.get("n_examples", 0)), checks=d.get("checks"),
                   model=d.get("model"), extra={k: v for k, v in d.items() if k not in known})

    @classmethod
    def load(cls, path) -> "Circuit":
        return cls.from_dict(read_json(Path(path), limit=256 << 20), str(path))

    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph(task=self.task)
        for node in self.nodes:
            location, index = split_node_name(node)
            layer, loc = location.split(".", 1)
            g.add_node(node, layer=int(layer), location=loc, index=index)
        for e in self.edges:
            g.add_edge(e["src"], e["dst"], weight=e["weight"], kind=e.get("kind", "weight"))
        return g


@torch.no_grad()
def extract_edges(model, nodes: list[str]) -> list[dict]:
    """Every nonzero weight between two kept nodes, and every residual write read later."""
    from .means import linear_layers
    kept: dict[str, list[int]] = {}
    for node in nodes:
        location, index = split_node_name(node)
        kept.setdefault(location, []).append(index)
    width = model.config.n_head * model.config.d_head
    layers = linear_layers(model)
    edges = []

    def add_weight_edges(key, src_loc, dst_loc, row_offset=0):
        src, dst = sorted(kept.get(src_loc, [])), sorted(kept.get(dst_loc, []))
        if not src or not dst:
            return
        w = layers[key].weight.detach().float().cpu()
        sub = w[[row_offset + d for d in dst]][:, src]
        for r, c in (sub != 0).nonzero().tolist():
            edges.append({"src": f"{src_loc}.{src[c]}", "dst": f"{dst_loc}.{dst[r]}",
                          "weight": float(sub[r, c]), "kind": "weight"})

    n_layer = model.config.n_layer
    for i in range(n_layer):
        for j, qkv in enumerate(("q", "k", "v")):
            add_weight_edges(f"{i}.attn.c_attn", f"{i}.attn.act_in", f"{i}.attn.{qkv}", j * width)
        add_weight_edges(f"{i}.attn.c_proj", f"{i}.attn.v", f"{i}.attn.resid_delta")
        add_weight_edges(f"{i}.mlp.c_fc", f"{i}.mlp.act_in", f"{i}.mlp.post_act")
        add_weight_edges(f"{i}.mlp.c_proj", f"{i}.mlp.post_act", f"{i}.mlp.resid_delta")
    # Residual edges: a write at (layer, part) read by a later attention or MLP input.
    stages = [(i, part) for i in range(n_layer) for part in ("attn", "mlp")]
    for s, (wi, wpart) in enumerate(stages):
        writes = set(kept.get(f"{wi}.{wpart}.resid_delta", []))
        for ri, rpart in stages[s + 1:]:
            reads = writes & set(kept.get(f"{ri}.{rpart}.act_in", []))
            norm = getattr(model.transformer.h[ri], "ln_1" if rpart == "attn" else "ln_2")
            for ch in sorted(reads):
                edges.append({"src": f"{wi}.{wpart}.resid_delta.{ch}",
                              "dst": f"{ri}.{rpart}.act_in.{ch}",
                              "weight": float(norm.weight[ch]), "kind": "residual"})
    return edges
