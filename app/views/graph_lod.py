"""A large graph at a readable level of detail (numpy, no Qt).

Zoomed out, a cell (one layer's location) whose channels would stand closer than
MIN_SPACING_PX on screen is drawn as groups: the queries, keys and values by head, every other
location as one group. Its edges are bundled: the weights between two drawn units (a channel or
a group) become one edge, its magnitude their summed magnitude, its sign the sign of their sum.
As the user zooms in, each cell opens into its channels once they have room, the smaller cells
first; at full detail the graph is drawn as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.attention_view import HEAD_LOCATIONS
from core.topology import LABEL, LOCATIONS

from .graph_layout import CELL_FILL, GraphData

LOD_MIN_NODES = 1000  # a graph this small always shows every channel
MIN_SPACING_PX = 6.0  # a cell shows its channels once they stand this far apart


@dataclass
class Groups:
    """Which cell and which group each node of a graph belongs to."""

    cell: np.ndarray  # [N] int: the node's cell
    cell_size: np.ndarray  # [C] int: nodes per cell
    group: np.ndarray  # [N] int: the node's group
    group_cell: np.ndarray  # [G] int
    pos: np.ndarray  # [G, 2]: the middle of its members
    labels: list[str]  # [G] "layer 0 queries, head 3"
    sizes: np.ndarray  # [G] int: members per group

    def members(self, g: int) -> np.ndarray:
        """The rows (in the graph's node order) of group `g`'s nodes."""
        if not hasattr(self, "_order"):
            self._order = np.argsort(self.group, kind="stable")
            self._starts = np.concatenate([[0], np.cumsum(self.sizes)])
        return self._order[self._starts[g] : self._starts[g + 1]]


def node_cells(graph: GraphData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node: layer, location (its position in LOCATIONS) and channel, from `by_site`."""
    layer = np.zeros(len(graph.nodes), dtype=np.int64)
    location = np.zeros(len(graph.nodes), dtype=np.int64)
    channel = np.zeros(len(graph.nodes), dtype=np.int64)
    for site, (rows, channels) in graph.by_site().items():
        lay, _, loc = site.partition(".")
        layer[rows], location[rows], channel[rows] = int(lay), LOCATIONS.index(loc), channels
    return layer, location, channel


def build_groups(graph: GraphData, d_head: int) -> Groups:
    layer, location, channel = node_cells(graph)
    n_loc = len(LOCATIONS)
    cell_key = layer * n_loc + location
    cells, cell = np.unique(cell_key, return_inverse=True)
    is_head = np.isin(location, [LOCATIONS.index(h) for h in HEAD_LOCATIONS]) & (d_head > 0)
    head = np.where(is_head, channel // max(d_head, 1), -1)
    keys, group = np.unique(np.stack([cell, head], axis=1), axis=0, return_inverse=True)
    group = group.reshape(-1)
    n_groups = len(keys)
    sizes = np.bincount(group, minlength=n_groups)
    pos = np.stack(
        [np.bincount(group, weights=graph.pos[:, k], minlength=n_groups) / sizes for k in (0, 1)], axis=1
    )
    labels = []
    for c, h in keys.tolist():
        lay, loc = divmod(int(cells[c]), n_loc)
        what = f"layer {lay} {LABEL[LOCATIONS[loc]]}"
        labels.append(f"{what}, head {h}" if h >= 0 else what)
    return Groups(
        cell=cell,
        cell_size=np.bincount(cell),
        group=group,
        group_cell=keys[:, 0],
        pos=pos,
        labels=labels,
        sizes=sizes,
    )


def expanded_cells(groups: Groups, px_per_unit: float) -> np.ndarray:
    """[C] bool: the cells whose channels stand at least MIN_SPACING_PX apart at this zoom."""
    return px_per_unit * CELL_FILL / groups.cell_size >= MIN_SPACING_PX


def zoom_to_open(groups: Groups, g: int) -> float:
    """The pixels per unit at which group `g`'s cell opens into its channels (a little more)."""
    return 1.05 * MIN_SPACING_PX * float(groups.cell_size[groups.group_cell[g]]) / CELL_FILL


@dataclass
class Detail:
    """The graph as drawn at one level of detail. Units are the nodes (0..N-1) and the
    groups (N..N+G-1); a node of a closed cell is drawn at its group's place."""

    expanded: np.ndarray  # [C] bool
    node_shown: np.ndarray  # [N] bool: drawn as itself
    group_shown: np.ndarray  # [G] bool: drawn as a group (its cell is closed)
    node_pos: np.ndarray  # [N, 2]: where each node is drawn (its own place or its group's)
    # The drawn edges (GraphData's fields, so the edge painter takes them as they are):
    pos: np.ndarray  # [N + G, 2]
    src: np.ndarray  # [B] unit
    dst: np.ndarray  # [B] unit
    weight: np.ndarray  # [B]: the edge's weight, or a bundle's signed summed magnitude
    kind: np.ndarray  # [B] bool: residual
    origin: np.ndarray  # [B]: the graph's edge drawn, or -1 for a bundle
    count: np.ndarray  # [B]: weights in it (1 for an edge)


def detail(graph: GraphData, groups: Groups, expanded: np.ndarray, threshold: float = 0.0) -> Detail:
    """The graph with the cells not `expanded` closed into their groups, its edges at or
    above `threshold` bundled between the units they join."""
    n = len(graph.nodes)
    open_node = expanded[groups.cell]
    unit = np.where(open_node, np.arange(n), n + groups.group)
    pos = np.concatenate([graph.pos, groups.pos])
    shown = np.flatnonzero(np.abs(graph.weight) >= threshold)
    su, du = unit[graph.src[shown]], unit[graph.dst[shown]]
    direct = (su < n) & (du < n)
    kept = shown[direct]
    bundled = ~direct
    n_units = n + len(groups.labels)
    key = (su[bundled] * n_units + du[bundled]) * 2 + graph.kind[shown[bundled]]
    keys, inverse = np.unique(key, return_inverse=True)
    w = graph.weight[shown[bundled]]
    magnitude = np.bincount(inverse, weights=np.abs(w), minlength=len(keys))
    sign = np.where(np.bincount(inverse, weights=w, minlength=len(keys)) < 0, -1.0, 1.0)
    pair, residual = np.divmod(keys, 2)
    b_src, b_dst = np.divmod(pair, n_units)
    return Detail(
        expanded=expanded,
        node_shown=open_node,
        group_shown=~expanded[groups.group_cell],
        node_pos=pos[unit],
        pos=pos,
        src=np.concatenate([graph.src[kept], b_src]).astype(np.int64),
        dst=np.concatenate([graph.dst[kept], b_dst]).astype(np.int64),
        weight=np.concatenate([graph.weight[kept], sign * magnitude]),
        kind=np.concatenate([graph.kind[kept], residual.astype(bool)]),
        origin=np.concatenate([kept, np.full(len(keys), -1)]).astype(np.int64),
        count=np.concatenate([np.ones(len(kept), dtype=np.int64), np.bincount(inverse, minlength=len(keys))]),
    )


def group_values(groups: Groups, values: np.ndarray) -> np.ndarray:
    """[G]: each group's value of largest magnitude (its strongest member, sign kept)."""
    order = np.lexsort((-np.abs(values), groups.group))  # by group, strongest first
    first = np.concatenate([[True], groups.group[order][1:] != groups.group[order][:-1]])
    out = np.zeros(len(groups.labels))
    out[groups.group[order][first]] = values[order][first]
    return out
