import copy
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.workspace import Workspace, check_against_model, load_workspace, save_workspace, workspace_from_dict
from core.circuit import Circuit
from core.fileio import FileFormatError
from core.interventions import Intervention
from core.tasks import Example
from tests.app.conftest import settle


def circuit_of(default_model) -> Circuit:
    return Circuit.load(default_model / "circuits" / "single_double_quote.json")


# ---- the file format, without widgets --------------------------------------------------------


def test_workspace_round_trips_with_an_inline_circuit(default_model, tmp_path):
    circuit = circuit_of(default_model)
    circuit.nodes = circuit.nodes[:10]
    ws = Workspace(
        "default",
        circuit,
        None,
        [Intervention("node", circuit.nodes[0], "zero")],
        'x = "a',
        Example('x = "a', '"', "'"),
        "single_double_quote",
        3,
        "neighbours",
        40,
        circuit.nodes[1:3],
    )
    path = tmp_path / "w.scws.json"
    save_workspace(path, ws)
    data = json.loads(path.read_text())
    assert data["circuit"]["inline"]["nodes"] == circuit.nodes[:10]
    back = load_workspace(path)
    assert back.circuit.nodes == circuit.nodes and back.circuit_path is None
    assert back.interventions == ws.interventions
    assert (back.prompt, back.example, back.task, back.position) == (ws.prompt, ws.example, ws.task, 3)
    assert (back.graph_mode, back.edge_threshold, back.selection) == ("neighbours", 40, circuit.nodes[1:3])
    assert not list(tmp_path.glob(".*.tmp"))  # written whole, nothing left behind


def good_workspace_dict(default_model) -> dict:
    circuit = circuit_of(default_model)
    path = str(default_model / "circuits" / "single_double_quote.json")
    return Workspace(
        "default", circuit, path, [], "x = 1", None, None, 0, "circuit", 0, [circuit.nodes[0]]
    ).to_dict()


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda d: d.pop("prompt"), "'prompt'"),
        (lambda d: d["graph"].pop("selection"), "'graph.selection'"),
        (lambda d: d.update(model="/no/such/model"), "'model'"),
        (lambda d: d.update(circuit={"path": "/no/such/circuit.json"}), "'circuit.path'"),
        (
            lambda d: d.update(interventions=[{"kind": "wire", "target": "0.attn.q.1"}]),
            "'interventions[0].kind'",
        ),
        (lambda d: d.update(position="last"), "'position'"),
        (lambda d: d["graph"].update(mode="sideways"), "'graph.mode'"),
        (lambda d: d.update(format="something-else"), "'format'"),
        (lambda d: d.update(version=99), "'version'"),
    ],
)
def test_bad_fields_name_the_file_and_the_field(default_model, tmp_path, edit, field):
    data = good_workspace_dict(default_model)
    edit(data)
    path = tmp_path / "bad.scws.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FileFormatError) as e:
        load_workspace(path)
    assert str(path) in str(e.value) and field in str(e.value)


def error_of(data, source="w.json") -> str:
    with pytest.raises(FileFormatError) as e:
        workspace_from_dict(data, source)
    message = str(e.value)
    assert message.startswith(f"{source}: ") and "\n" not in message, message
    return message


def inline_workspace_dict(default_model) -> dict:
    circuit = circuit_of(default_model)
    return Workspace(
        "default",
        circuit,
        None,
        [Intervention("node", circuit.nodes[0], "zero")],
        "x = 1",
        Example("x = 1", "0", "1"),
        "single_double_quote",
        0,
        "model",
        10,
        circuit.nodes[:2],
    ).to_dict()


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda d: d["interventions"][0].update(mode="avg"),
            "w.json: field 'interventions[0].mode': must be mean, zero or patch (got \"avg\")",
        ),
        (
            lambda d: d["interventions"][0].update(kind="edge"),
            "w.json: field 'interventions[0].target': edge '0.attn.act_in.0' is not written 'src->dst'",
        ),
        (
            lambda d: d["interventions"].append({"kind": "node", "target": "0.mlp.post_act.x"}),
            "w.json: field 'interventions[1].target': '0.mlp.post_act.x' is not a node name",
        ),
        (lambda d: d["interventions"][0].pop("target"), "w.json: missing field 'interventions[0].target'"),
        (
            lambda d: d["circuit"]["inline"]["nodes"].__setitem__(3, "0.mlp.nowhere.3"),
            "w.json: field 'circuit.inline.nodes[3]': '0.mlp.nowhere.3' is not a node name like",
        ),
        (
            lambda d: d["circuit"]["inline"]["edges"][0].pop("weight"),
            "w.json: missing field 'circuit.inline.edges[0].weight'",
        ),
        (
            lambda d: d.update(circuit={}),
            "w.json: field 'circuit': must hold a 'path' to a circuit file or an 'inline' circuit",
        ),
        (lambda d: d.update(circuit=[]), "w.json: field 'circuit': must be an object (got [])"),
        (
            lambda d: d["graph"]["selection"].append("0.mlp.post_act"),
            "w.json: field 'graph.selection[2]': '0.mlp.post_act' is not a node name",
        ),
        (
            lambda d: d["graph"].update(edge_threshold=101),
            "w.json: field 'graph.edge_threshold': must be from 0 to 100 (got 101)",
        ),
        (
            lambda d: d["graph"].update(edge_threshold=True),
            "w.json: field 'graph.edge_threshold': must be a whole number (got true)",
        ),
        (lambda d: d["example"].pop("incorrect"), "w.json: missing field 'example.incorrect'"),
        (lambda d: d.update(task="nope"), "w.json: field 'task': unknown task 'nope'"),
        (lambda d: d.update(position=1.0), "w.json: field 'position': must be a whole number (got 1.0)"),
        (
            lambda d: d.update(prompt=None, graph=None),
            "w.json: field 'prompt': must be a string (got null); field 'graph': must be an object",
        ),
        (
            lambda d: d.update(version=2, prompt=None),  # a newer file: nothing else is reported
            (
                "w.json: field 'version': version 2 is from a newer version of the app (this one reads "
                "version 1)"
            ),
        ),
    ],
)
def test_bad_workspace_fields_give_one_line_with_the_field_path(default_model, edit, expected):
    data = inline_workspace_dict(default_model)
    workspace_from_dict(copy.deepcopy(data), "w.json")  # the good one loads
    edit(data)
    message = error_of(data)
    assert message.startswith(expected), message
    if expected.startswith("w.json: field 'version'"):
        assert ";" not in message  # the prompt's error is left out


def test_a_circuit_file_opened_as_a_workspace_says_so(default_model):
    data = circuit_of(default_model).to_dict()
    assert error_of(data) == (
        "w.json: field 'format': expected 'sparse-circuits-workspace', got "
        "'sparse-circuits-circuit': this is not a workspace file"
    )


def test_a_bad_circuit_file_is_named_with_its_workspace(default_model, tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({**circuit_of(default_model).to_dict(), "ablation": "avg"}))
    data = good_workspace_dict(default_model)
    data["circuit"] = {"path": str(bad)}
    assert error_of(data) == (
        f"w.json: field 'circuit.path': {bad}: field 'ablation': must be mean or zero (got \"avg\")"
    )


def json_values():
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=12)
        | st.sampled_from(["0.mlp.post_act.3", "mean", "edge", "model", "default"])
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=6,
    )


def places(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from places(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from places(v, path + (i,))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_workspaces_load_or_fail_with_one_line(default_model, data):
    good = inline_workspace_dict(default_model)
    good["circuit"]["inline"]["nodes"] = good["circuit"]["inline"]["nodes"][:4]
    good["circuit"]["inline"]["edges"] = good["circuit"]["inline"]["edges"][:2]
    bad = copy.deepcopy(good)
    path = data.draw(st.sampled_from([p for p in places(good) if p]))
    parent = bad
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = data.draw(json_values())
    try:
        workspace_from_dict(bad, "w.json")
    except FileFormatError as e:
        assert str(e).startswith("w.json: ") and "field '" in str(e) and "\n" not in str(e)


def test_node_names_are_checked_against_the_model(default_model, tmp_path):
    from core.workbench import Workbench

    bench = Workbench(default_model)
    ws = Workspace("default", selection=["0.mlp.post_act.99999"])
    with pytest.raises(FileFormatError, match=r"w\.json: field 'graph\.selection'.*99999"):
        check_against_model(ws, bench.model, bench.tokenizer, "w.json")
    ws = Workspace("default", interventions=[Intervention("edge", "0.attn.q.0->1.mlp.post_act.0")])
    with pytest.raises(FileFormatError, match=r"'interventions\[0\]': .*no weight"):
        check_against_model(ws, bench.model, bench.tokenizer, "w.json")
    ws = Workspace("default", prompt="x = 1", position=50)
    with pytest.raises(FileFormatError, match="'position'"):
        check_against_model(ws, bench.model, bench.tokenizer, "w.json")


# ---- through the window ----------------------------------------------------------------------


def save_as(window, menu_action, monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    menu_action("File", "Save workspace…").trigger()


def open_from(window, menu_action, monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    menu_action("File", "Open workspace…").trigger()
    settle(window)


def snapshot(window):
    s, table = window.session, window.outputs.table
    return {
        "interventions": list(s.interventions),
        "selection": list(s.selection),
        "position": s.position,
        "prompt": s.prompt,
        "mode": s.graph_mode,
        "graph": list(s.graph.nodes),
        "threshold": window.threshold.value(),
        "circuit": list(s.circuit.nodes),
        "candidates": window.outputs.candidates.text(),
        "table": [[table.item(r, c).text() for c in range(4)] for r in range(10)],
        "probs": s.current.probs.copy(),
        "logit_diff": s.current.logit_diff,
    }


def assert_same(a, b):
    np.testing.assert_array_equal(a.pop("probs"), b.pop("probs"))
    assert a == b


def test_save_then_open_restores_everything(window, menu_action, monkeypatch, tmp_path):
    s = window.session
    g = s.graph
    edge = next(f"{g.nodes[a]}->{g.nodes[b]}" for a, b, r in zip(g.src, g.dst, g.kind) if not r)
    window.graph.ablate_requested.emit("edge", [edge], "mean")
    window.graph.ablate_requested.emit("node", [s.circuit.nodes[3]], "zero")
    window.outputs.tokens.position_clicked.emit(2)
    window.mode_box.activated.emit(window.mode_box.findData("neighbours"))
    window.threshold.setValue(30)
    window.graph.node_clicked.emit(s.circuit.nodes[1], False)
    window.graph.node_clicked.emit(s.circuit.nodes[2], True)
    before = snapshot(window)
    assert before["mode"] == "neighbours" and len(before["interventions"]) == 2

    path = tmp_path / "study.scws.json"
    save_as(window, menu_action, monkeypatch, path)
    data = json.loads(path.read_text())
    assert data["model"] == "default"
    assert data["circuit"]["path"].endswith("single_double_quote.json")
    assert {"kind": "edge", "target": edge, "mode": "mean"} in data["interventions"]

    window.files.open_default()  # back to a fresh state
    settle(window)
    assert s.interventions == [] and s.position != 2
    open_from(window, menu_action, monkeypatch, path)
    assert_same(snapshot(window), before)
    assert window.mode_box.currentData() == "neighbours"
    assert window.graph.ablated_nodes == {before["interventions"][1].target}
    assert window.graph.selected == before["selection"]


def test_a_pruned_circuit_is_saved_inline(window, menu_action, monkeypatch, tmp_path, default_model):
    s = window.session
    pruned = circuit_of(default_model)
    pruned.nodes = pruned.nodes[::2]
    window.pruning.circuit_ready.emit(pruned)  # as when pruning finishes
    assert s.circuit_path is None
    path = tmp_path / "pruned.scws.json"
    save_as(window, menu_action, monkeypatch, path)
    assert json.loads(path.read_text())["circuit"]["inline"]["nodes"] == pruned.nodes
    before = snapshot(window)
    window.files.open_default()
    settle(window)
    assert s.circuit.nodes != pruned.nodes
    open_from(window, menu_action, monkeypatch, path)
    assert_same(snapshot(window), before)
    assert s.circuit_path is None


def bad_files(tmp_path, default_model):
    not_json = tmp_path / "not-json.scws.json"
    not_json.write_text("{ this is not json")
    files = {"not-json.scws.json": (not_json, "not valid JSON")}
    for name, edit, field in [
        ("missing.scws.json", lambda d: d.pop("interventions"), "'interventions'"),
        ("gone-model.scws.json", lambda d: d.update(model=str(tmp_path / "deleted")), "'model'"),
        (
            "bad-node.scws.json",
            lambda d: d["graph"].update(selection=["1.mlp.post_act.100000"]),
            "'graph.selection'",
        ),
    ]:
        data = good_workspace_dict(default_model)
        edit(data)
        (tmp_path / name).write_text(json.dumps(data))
        files[name] = (tmp_path / name, field)
    return files


def test_bad_workspaces_are_reported_and_change_nothing(
    window, menu_action, monkeypatch, tmp_path, default_model
):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    window.graph.ablate_requested.emit("node", [window.session.circuit.nodes[0]], "mean")
    circuit = window.session.circuit
    before = snapshot(window)
    for name, (path, field) in bad_files(tmp_path, default_model).items():
        open_from(window, menu_action, monkeypatch, path)
        assert name in shown[-1] and field in shown[-1], shown[-1]
        assert window.session.circuit is circuit
        assert_same(snapshot(window), dict(before))
    assert len(shown) == 4


def test_a_failed_save_keeps_the_previous_file(window, menu_action, monkeypatch, tmp_path):
    import core.fileio

    save_as(window, menu_action, monkeypatch, tmp_path / "kept")  # the suffix is added
    path = tmp_path / "kept.scws.json"
    saved = path.read_text()
    window.graph.ablate_requested.emit("node", [window.session.circuit.nodes[0]], "mean")
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core.fileio.os, "replace", disk_full)
    save_as(window, menu_action, monkeypatch, path)
    assert "No space left" in shown[0]
    assert path.read_text() == saved and not list(tmp_path.glob(".*.tmp"))
