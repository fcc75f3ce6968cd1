"""Naming nodes: a label and a note per node, typed in the inspector, found by the find box,
kept in the workspace and carried by an exported circuit."""

import json

from app.workspace import load_workspace, save_workspace
from core.circuit import Circuit


def test_a_node_is_named_found_saved_and_carried(window, qtbot, tmp_path):
    s = window.session
    node, other = s.circuit.nodes[0], s.circuit.nodes[1]
    window.graph.node_clicked.emit(node, False)
    editor = window.inspector.annotation
    assert editor.isVisible() and editor.label.text() == ""
    qtbot.keyClicks(editor.label, "quote type")
    editor.note.setPlainText("fires on ' but not on \"")
    window.graph.node_clicked.emit(other, False)  # moving on commits what was typed
    assert s.annotations == {node: {"label": "quote type", "note": "fires on ' but not on \""}}
    assert editor.label.text() == ""  # the other node has none
    # The graph shows the label beside its node, and in the node's tooltip.
    assert [item.toPlainText() for item in window.graph._annotation_items] == ["quote type"]
    assert "quote type" in window.graph.describe_node(s.graph.index()[node])
    # The find box finds a node by its label, in any case.
    window.find_box.setText("QUOTE")
    window.find_box.returnPressed.emit()
    assert s.selection == [node]
    # A workspace keeps the annotations; a workspace from before them has none.
    path = tmp_path / "w.scws.json"
    save_workspace(path, s.workspace())
    assert load_workspace(path).annotations == s.annotations
    data = json.loads(path.read_text())
    del data["annotations"]
    path.write_text(json.dumps(data))
    assert load_workspace(path).annotations == {}
    # An exported circuit carries its nodes' annotations, and brings them to a fresh session.
    s.save_circuit(tmp_path / "c.json")
    assert Circuit.load(tmp_path / "c.json").extra["annotations"] == s.annotations
    s.annotate(node, "", "")  # cleared
    assert s.annotations == {}
    s.open_circuit(tmp_path / "c.json")
    assert s.label(node) == "quote type"
