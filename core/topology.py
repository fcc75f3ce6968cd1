"""The model's structure, written once: every node site, the linear layer that joins two sites,
and how the residual stream links a write to a later read. Everything else derives from it:
prune locations, graph rows, edge extraction, interventions, means, widths.

A node is one channel at one site, named `LAYER.LOCATION.INDEX` (`0.mlp.post_act.2790`); a
site without the index (`0.mlp.post_act`) is a hook point.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Site:
    location: str  # "attn.q": the name inside a layer
    label: str  # what the graph calls its row
    width: str  # which width of the config: "d_in", "heads", "d_mlp" or "d_model"
    hook: str  # the HookPoint's attribute path inside a Block


# Node sites in forward-pass order within a layer; a site's position here is its graph row.
SITES = (
    Site("attn.act_in", "attention reads", "d_in", "attn.hook_act_in"),
    Site("attn.q", "queries", "heads", "attn.hook_q"),
    Site("attn.k", "keys", "heads", "attn.hook_k"),
    Site("attn.v", "values", "heads", "attn.hook_v"),
    Site("attn.resid_delta", "attention writes", "d_model", "hook_attn_resid_delta"),
    Site("mlp.act_in", "MLP reads", "d_in", "mlp.hook_act_in"),
    Site("mlp.post_act", "MLP neurons", "d_mlp", "mlp.hook_post_act"),
    Site("mlp.resid_delta", "MLP writes", "d_model", "hook_mlp_resid_delta"),
)
# Hook points that are not node sites (the residual stream between sublayers).
STREAM_HOOKS = {"resid_in": "hook_resid_in", "resid_mid": "hook_resid_mid"}
FINAL_HOOK = "final_resid"

LOCATIONS = tuple(s.location for s in SITES)
ROW = {s.location: r for r, s in enumerate(SITES)}
LABEL = {s.location: s.label for s in SITES}


@dataclass(frozen=True)
class Wire:
    """A linear layer (`attn.c_attn`) whose weight W[block * out_width + dst, src] joins a
    channel of site `src` to a channel of site `dst`."""

    linear: str
    src: str
    dst: str
    block: int = 0  # which slice of the output rows (q, k, v share c_attn)


WIRES = (
    Wire("attn.c_attn", "attn.act_in", "attn.q", 0),
    Wire("attn.c_attn", "attn.act_in", "attn.k", 1),
    Wire("attn.c_attn", "attn.act_in", "attn.v", 2),
    Wire("attn.c_proj", "attn.v", "attn.resid_delta"),
    Wire("mlp.c_fc", "mlp.act_in", "mlp.post_act"),
    Wire("mlp.c_proj", "mlp.post_act", "mlp.resid_delta"),
)
LINEARS = tuple(dict.fromkeys(w.linear for w in WIRES))

# The residual stream: each sublayer writes it and each later sublayer reads it through a norm.
# (sublayer, its write site, its read site, the Block attribute of the norm it reads through)
SUBLAYERS = (
    ("attn", "attn.resid_delta", "attn.act_in", "ln_1"),
    ("mlp", "mlp.resid_delta", "mlp.act_in", "ln_2"),
)


@dataclass(frozen=True, order=True)
class Node:
    layer: int
    location: str
    index: int

    @classmethod
    def parse(cls, name: str) -> "Node":
        """`0.mlp.post_act.2790` -> Node(0, "mlp.post_act", 2790); ValueError if malformed."""
        layer, _, rest = str(name).partition(".")
        location, _, index = rest.rpartition(".")
        if not (layer.isdigit() and index.isdigit() and location in ROW):
            raise ValueError(
                f"{name!r} is not a node name like '0.mlp.post_act.12' (locations: {', '.join(LOCATIONS)})"
            )
        return cls(int(layer), location, int(index))

    @property
    def site(self) -> str:
        """The hook point: `0.mlp.post_act`."""
        return f"{self.layer}.{self.location}"

    def __str__(self) -> str:
        return f"{self.layer}.{self.location}.{self.index}"

    @property
    def sort_key(self) -> tuple[int, int, int]:
        return self.layer, ROW[self.location], self.index


def split_site(site: str) -> tuple[int, str]:
    """`0.mlp.post_act` -> (0, "mlp.post_act")."""
    layer, _, location = site.partition(".")
    if not layer.isdigit() or location not in ROW:
        raise ValueError(f"{site!r} is not a node site like '0.mlp.post_act'")
    return int(layer), location


def sort_nodes(nodes) -> list[str]:
    """Node names in model order: layer, then site as SITES lists them, then index."""
    return [str(n) for n in sorted((Node.parse(n) for n in nodes), key=lambda n: n.sort_key)]


class Topology:
    """The node sites of one model configuration, with their widths."""

    def __init__(self, config):
        self.n_layer = config.n_layer
        self.heads_width = config.n_head * config.d_head
        self._widths = {
            "d_in": config.d_model_in,
            "heads": self.heads_width,
            "d_mlp": config.d_mlp,
            "d_model": config.d_model,
        }
        self.d_model = config.d_model

    def width(self, site_or_location: str) -> int:
        """Channels at a site ('0.mlp.post_act' or 'mlp.post_act'); the residual stream's
        hook points ('0.resid_mid', 'final_resid') are d_model wide."""
        location = site_or_location.partition(".")[2] if site_or_location[0].isdigit() else site_or_location
        site = next((s for s in SITES if s.location == location), None)
        return self._widths[site.width] if site else self.d_model

    @cached_property
    def sites(self) -> list[str]:
        """Every node site in forward order: `0.attn.act_in`, ..., `1.mlp.resid_delta`."""
        return [f"{i}.{loc}" for i in range(self.n_layer) for loc in LOCATIONS]

    @cached_property
    def n_nodes(self) -> int:
        return sum(self.width(s) for s in self.sites)

    def all_nodes(self) -> list[str]:
        return [f"{s}.{i}" for s in self.sites for i in range(self.width(s))]

    def check_node(self, name: str) -> Node:
        """The parsed node, or ValueError naming it if the model has no such node."""
        node = Node.parse(name)
        if node.layer >= self.n_layer:
            raise ValueError(f"{name}: the model has {self.n_layer} layers")
        width = self.width(node.location)
        if node.index >= width:
            raise ValueError(f"{name}: index out of range ({node.site} has {width} channels)")
        return node

    # ---- edges -----------------------------------------------------------------------------

    def wire(self, src: Node, dst: Node) -> tuple[str, int, int] | None:
        """(linear key `0.mlp.c_fc`, row, column) of the weight joining src to dst, or None."""
        if src.layer != dst.layer:
            return None
        for w in WIRES:
            if w.src == src.location and w.dst == dst.location:
                return (f"{src.layer}.{w.linear}", w.block * self.width(dst.location) + dst.index, src.index)
        return None

    @staticmethod
    def residual_link(src: Node, dst: Node) -> tuple[str, str, str] | None:
        """(writer site, reader site, reader norm key `1.ln_1`) when src writes the residual
        channel that dst, a later sublayer, reads; else None."""
        order = {write: (k, read, norm) for k, (_, write, read, norm) in enumerate(SUBLAYERS)}
        reads = {read: (k, norm) for k, (_, _, read, norm) in enumerate(SUBLAYERS)}
        if src.location not in order or dst.location not in reads or src.index != dst.index:
            return None
        (s_part, _, _), (d_part, norm) = order[src.location], reads[dst.location]
        if (dst.layer, d_part) <= (src.layer, s_part):
            return None
        return src.site, dst.site, f"{dst.layer}.{norm}"

    def wire_pairs(self):
        """(linear key, src site, dst site, row offset) for every wire of every layer."""
        for i in range(self.n_layer):
            for w in WIRES:
                yield (f"{i}.{w.linear}", f"{i}.{w.src}", f"{i}.{w.dst}", w.block * self.width(w.dst))

    def linears(self) -> list[str]:
        """Every linear layer an edge runs through: `0.attn.c_attn`, ..., `1.mlp.c_proj`."""
        return [f"{i}.{linear}" for i in range(self.n_layer) for linear in LINEARS]

    def residual_pairs(self):
        """(writer site, reader site, reader norm key) for every write read later."""
        stages = [(i, k) for i in range(self.n_layer) for k in range(len(SUBLAYERS))]
        for s, (wi, wk) in enumerate(stages):
            for ri, rk in stages[s + 1 :]:
                yield (f"{wi}.{SUBLAYERS[wk][1]}", f"{ri}.{SUBLAYERS[rk][2]}", f"{ri}.{SUBLAYERS[rk][3]}")
