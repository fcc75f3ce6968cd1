import json
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.views.graph_overlay import NEITHER, ONLY_A, ONLY_B, SHARED
from core.circuit import Circuit, extract_edges
from core.compare import compare
from core.provenance import CircuitMismatch
from tests.app.conftest import settle


@pytest.fixture
def circuit_b(window, tmp_path):
    """A second circuit of the open model: half of A's nodes and some of its own."""
    s = window.session
    a = s.circuit
    nodes = a.nodes[::2] + ["0.mlp.post_act.20", "0.mlp.post_act.21", "1.attn.q.30"]
    b = replace(a, task="bracket_counting", nodes=nodes, edges=extract_edges(s.bench.model, nodes))
    path = tmp_path / "b.json"
    b.save(path)
    return path


def compare_through_the_menu(window, menu_action, monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    menu_action("File", "Compare with circuit…").trigger()


def test_the_graph_shows_the_union_coloured_by_core_comparison(window, menu_action, monkeypatch, circuit_b):
    s = window.session
    a_nodes = list(s.circuit.nodes)
    compare_through_the_menu(window, menu_action, monkeypatch, circuit_b)
    expected = compare(s.circuit, Circuit.load(circuit_b))
    c = s.comparison
    assert (c.shared_nodes, c.only_a_nodes, c.only_b_nodes) == (
        expected.shared_nodes,
        expected.only_a_nodes,
        expected.only_b_nodes,
    )
    assert c.only_b_nodes and c.only_a_nodes and c.shared_nodes
    assert set(s.graph.nodes) == set(a_nodes) | set(Circuit.load(circuit_b).nodes)
    overlay = window.graph.overlay
    for node, k in zip(s.graph.nodes, overlay.node_class):
        assert k == (SHARED if node in c.shared_nodes else ONLY_A if node in c.only_a_nodes else ONLY_B)
    edges = {
        (s.graph.nodes[i], s.graph.nodes[j]): k
        for i, j, k in zip(s.graph.src, s.graph.dst, overlay.edge_class)
    }
    assert all(edges[e] == SHARED for e in c.shared_edges) and all(edges[e] == ONLY_B for e in c.only_b_edges)
    assert all(edges[e] == ONLY_A for e in c.only_a_edges)
    assert NEITHER in overlay.edge_class  # edges between an only-A and an only-B node
    # The counts and overlaps shown are core's.
    bar = window.comparison_bar
    assert bar.isVisible() and f"nodes {expected.node_jaccard:.2f}" in bar.text.text()
    assert f"weight edges {expected.edge_jaccard:.2f}" in bar.text.text()
    assert (
        f"only B: {len(expected.only_b_nodes)} nodes, {len(expected.only_b_edges)} edges"
        in window.legend.text()
    )
    assert menu_action("File", "Stop comparing").isEnabled()
    # Stop comparing: the open circuit alone, its usual colours.
    bar.stop.click()
    assert s.comparison is None and window.graph.overlay is None and not bar.isVisible()
    assert set(s.graph.nodes) == set(a_nodes) and "activation at the chosen token" in window.legend.text()
    assert not menu_action("File", "Stop comparing").isEnabled()


def test_another_models_circuit_is_refused(window, menu_action, monkeypatch, circuit_b, tmp_path):
    other = Circuit.load(circuit_b)
    other.extra["model_fingerprint"] = "0123456789abcdef"
    other.save(tmp_path / "other.json")
    with pytest.raises(CircuitMismatch, match="belongs to the model"):
        window.session.compare_with(tmp_path / "other.json")
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warned.append(a[2]))
    compare_through_the_menu(window, menu_action, monkeypatch, tmp_path / "other.json")
    assert warned and "belongs to the model" in warned[0]
    assert window.session.comparison is None and window.graph.overlay is None


def test_a_workspace_with_annotations_and_a_comparison_round_trips(
    window, menu_action, monkeypatch, circuit_b, tmp_path
):
    s = window.session
    compare_through_the_menu(window, menu_action, monkeypatch, circuit_b)
    s.annotate(s.circuit.nodes[0], "quote reader", "fires after ' and \"")
    before = (s.comparison.summary(), dict(s.annotations), list(s.graph.nodes))
    path = tmp_path / "w.scws.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    menu_action("File", "Save workspace…").trigger()
    assert json.loads(path.read_text())["comparison"] == {"path": str(circuit_b)}
    s.stop_comparing()
    s.annotate(s.circuit.nodes[0], "", "")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    menu_action("File", "Open workspace…").trigger()
    settle(window)
    assert (s.comparison.summary(), dict(s.annotations), list(s.graph.nodes)) == before
    assert window.graph.overlay is not None and window.comparison_bar.isVisible()
    # A workspace without the field (an older file) opens with no comparison.
    data = json.loads(path.read_text())
    del data["comparison"]
    path.write_text(json.dumps(data))
    menu_action("File", "Open workspace…").trigger()
    settle(window)
    assert s.comparison is None and s.annotations == before[1]
    assert np.array_equal(sorted(s.graph.nodes), sorted(s.circuit.nodes))


def test_an_inline_comparison_is_written_out(window, circuit_b, tmp_path):
    from app.workspace import load_workspace, save_workspace

    s = window.session
    s.set_compared(Circuit.load(circuit_b), None)  # as one of OpenAI's, converted, is kept
    save_workspace(tmp_path / "w.json", s.workspace())
    back = load_workspace(tmp_path / "w.json")
    assert back.compared.nodes == Circuit.load(circuit_b).nodes and back.compared_path is None
