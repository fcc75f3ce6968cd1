"""A large graph zoomed out is drawn as groups (a head's q/k/v channels, a location's other
channels) with bundled edges that keep every weight's count and magnitude; zooming in opens
each cell into its channels; a group is clicked to open it and right-clicked to ablate all of
its channels."""

import numpy as np
from PySide6.QtCore import QPointF, Qt
from pytestqt.qtbot import QtBot

from app.bench import synthetic_graph
from app.views.graph import GraphView
from app.views.graph_lod import LOD_MIN_NODES, build_groups, detail

D_HEAD = 4


def large_graph():
    graph = synthetic_graph(n_nodes=4000, n_edges=20_000, n_layer=4)
    graph.d_head = D_HEAD
    return graph


def test_bundles_keep_every_weight_and_a_groups_members_are_its_head():
    graph = large_graph()
    groups = build_groups(graph, D_HEAD)
    q = next(k for k, label in enumerate(groups.labels) if label == "layer 1 queries, head 2")
    members = [graph.nodes[m] for m in groups.members(q)]
    assert members == [f"1.attn.q.{c}" for c in range(2 * D_HEAD, 3 * D_HEAD)]
    mlp = next(k for k, label in enumerate(groups.labels) if label.startswith("layer 1 MLP neurons"))
    assert groups.sizes[mlp] == sum(n.startswith("1.mlp.post_act.") for n in graph.nodes)

    closed = detail(graph, groups, np.zeros(len(groups.cell_size), dtype=bool), threshold=0.5)
    kept = np.abs(graph.weight) >= 0.5
    assert (closed.origin == -1).all() and closed.count.sum() == kept.sum()
    assert np.isclose(np.abs(closed.weight).sum(), np.abs(graph.weight[kept]).sum())
    # One bundle's sign is the sign of its weights' sum.
    b = int(np.argmax(closed.count))
    unit = len(graph.nodes) + groups.group
    inside = kept & (unit[graph.src] == closed.src[b]) & (unit[graph.dst] == closed.dst[b])
    inside &= graph.kind == closed.kind[b]
    assert inside.sum() == closed.count[b]
    assert np.sign(graph.weight[inside].sum()) == np.sign(closed.weight[b])

    opened = detail(graph, groups, np.ones(len(groups.cell_size), dtype=bool))
    assert sorted(opened.origin.tolist()) == list(range(len(graph.src)))  # every edge as itself


def make_view(qtbot, graph):
    view = GraphView()
    qtbot.addWidget(view)
    view.resize(800, 500)
    view.show()
    qtbot.waitExposed(view)
    view.set_graph(graph)
    return view


def click(view, xy, button=Qt.LeftButton):
    scene = view.getViewBox().mapViewToScene(QPointF(*xy))
    QtBot.mouseClick(view.viewport(), button, pos=view.mapFromScene(scene))


def test_zoomed_out_groups_zoomed_in_channels_and_back(qtbot):
    graph = large_graph()
    assert len(graph.nodes) > LOD_MIN_NODES
    view = make_view(qtbot, graph)
    d = view.detail
    assert d is not None and d.group_shown.any() and not d.node_shown.all()
    assert len(d.src) < len(graph.src) / 10  # bundled
    assert {kind for _, _, kind in view.drawn_markers()} >= {"group"}

    name = "2.mlp.post_act.7"
    with qtbot.waitSignal(view.detail_changed, timeout=5000):
        view.show_node(name)  # zoomed in far enough that it is drawn as itself
    i = graph.index()[name]
    assert view.detail is None or view.detail.node_shown[i]
    assert np.allclose(view.node_pos()[i], graph.pos[i])
    assert view.node_at(graph.pos[i]) == i

    with qtbot.waitSignal(view.detail_changed, timeout=5000):
        view.fit()
    assert view.detail is not None and not view.detail.node_shown[i]


def test_clicking_a_group_opens_it_and_right_clicking_ablates_its_channels(qtbot, monkeypatch):
    graph = large_graph()
    view = make_view(qtbot, graph)
    groups = view.groups
    k = next(k for k, label in enumerate(groups.labels) if label == "layer 0 keys, head 1")
    assert view.detail.group_shown[k]
    assert "layer 0 keys, head 1" in view.describe_group(k)

    menus = []

    class Menu:
        def exec(self, *_):
            pass

    def context_menu(kind, targets, title=None):
        menus.append((kind, targets, title))
        return Menu()

    monkeypatch.setattr(view, "context_menu", context_menu)
    click(view, groups.pos[k], Qt.RightButton)
    assert menus == [("node", [f"0.attn.k.{c}" for c in range(D_HEAD, 2 * D_HEAD)], "layer 0 keys, head 1")]

    click(view, groups.pos[k])
    cell = groups.group_cell[k]
    assert view.detail is None or view.detail.expanded[cell]
    first = graph.index()[f"0.attn.k.{D_HEAD}"]
    assert view.node_at(graph.pos[first]) == first  # its channels can be clicked one by one


def test_a_bundle_says_what_it_joins_and_how_many_weights(qtbot):
    view = make_view(qtbot, large_graph())
    d = view.detail
    b = int(np.argmax(d.count))
    text = view.describe_bundle(b)
    assert f"{d.count[b]:,}" in text and "→" in text
    middle = (d.pos[d.src[b]] + d.pos[d.dst[b]]) / 2
    assert view.bundle_at(middle, radius_px=1.5) is not None


def test_the_figure_of_a_zoomed_out_graph_draws_its_groups_as_squares(qtbot, tmp_path):
    import xml.etree.ElementTree as ET

    from app.views.graph_export import export_graph

    view = make_view(qtbot, large_graph())
    qtbot.waitUntil(lambda: not view.edge_raster.pending, timeout=30_000)
    path = tmp_path / "model.svg"
    export_graph(view, path, "svg", "the whole model")
    rects = [e for e in ET.parse(path).getroot().iter() if e.tag.endswith("rect")]
    squares = [r for r in rects if abs(float(r.get("width", 0)) - 15) < 1e-6]
    assert len(squares) == int(view.detail.group_shown.sum())
