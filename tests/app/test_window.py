import numpy as np
import pytest

from core.interventions import Intervention, applied
from core.outputs import predict
from core.taskeval import encode_examples, evaluate
from tests.app.conftest import settle


def test_first_launch_shows_the_quote_circuit(window):
    s = window.session
    assert s.circuit is not None and s.circuit.task == "single_double_quote"
    assert s.graph.nodes == s.circuit.nodes
    assert s.example is not None and s.prompt == s.example.prompt
    assert "single_double_quote" in window.summary.text()
    assert window.outputs.table.item(0, 0) is not None
    assert "Logit difference" in window.outputs.candidates.text()
    assert "single_double_quote" in window.windowTitle()


def test_selecting_a_node_fills_the_inspector(window, qtbot):
    node = window.session.circuit.nodes[0]
    window.graph.node_clicked.emit(node, False)
    assert window.session.selection == [node]
    assert node in window.inspector.title.text()
    assert "On this prompt" in window.inspector.prompt_acts.text()
    qtbot.waitUntil(lambda: "Examples over the corpus" in window.inspector.examples.text(), timeout=20_000)
    other = window.session.circuit.nodes[-1]
    window.graph.node_clicked.emit(other, True)  # shift-click adds
    assert window.session.selection == [node, other]


def pick_weight_edge(session):
    g = session.graph
    for s, d, residual in zip(g.src, g.dst, g.kind):
        if not residual:
            return f"{g.nodes[s]}->{g.nodes[d]}"
    pytest.skip("the test circuit has no weight edge")


def test_ablating_an_edge_changes_outputs_as_core_computes_and_undo_restores(window):
    s = window.session
    before = s.current.probs.copy()
    before_diff = s.current.logit_diff
    edge = pick_weight_edge(s)
    window.graph.ablate_requested.emit("edge", [edge], "mean")
    assert [iv.target for iv in s.interventions] == [edge]
    iv = Intervention("edge", edge, "mean")
    expected = predict(s.bench.model, s.bench.tokenizer, s.ids, [iv], s.bench.means, s.candidates)
    np.testing.assert_array_equal(s.current.probs, expected.probs)
    assert s.current.logit_diff == expected.logit_diff
    assert f"{expected.logit_diff:+.2f}" in window.outputs.candidates.text()
    # The same intervention through the evaluation path the CLI uses.
    batch = encode_examples([s.example], s.bench.tokenizer, s.bench.model.config.block_size)
    with applied(s.bench.model, [iv], s.bench.means):
        loss = evaluate(s.bench.model, batch)["task_loss"]
    two = np.log1p(np.exp(-expected.logit_diff))
    assert loss == pytest.approx(two, abs=1e-5)
    s.undo_stack.undo()
    assert s.interventions == []
    np.testing.assert_array_equal(s.current.probs, before)
    assert s.current.logit_diff == before_diff
    s.undo_stack.redo()
    np.testing.assert_array_equal(s.current.probs, expected.probs)


def test_node_ablation_is_listed_and_restored(window):
    s = window.session
    node = s.circuit.nodes[0]
    window.graph.ablate_requested.emit("node", [node], "zero")
    assert window.interventions.list.count() == 1
    assert node in window.interventions.list.item(0).text()
    assert node in window.graph.ablated_nodes
    window.graph.restore_requested.emit([node])
    assert s.interventions == [] and window.graph.ablated_nodes == set()


def test_clicking_a_token_moves_the_position(window):
    s = window.session
    assert s.position == len(s.ids) - 1
    window.outputs.tokens.position_clicked.emit(0)
    assert s.position == 0 and s.current.position == 0


def test_typed_prompt_has_no_candidates(window, qtbot):
    window.outputs.prompt_edit.setText("x = [[1, 2")
    window.outputs.prompt_edit.returnPressed.emit()
    assert window.session.prompt == "x = [[1, 2" and window.session.candidates is None
    assert "No task candidates" in window.outputs.candidates.text()


def test_graph_views_and_find(window):
    s = window.session
    window.mode_box.setCurrentIndex(2)
    window.mode_box.activated.emit(2)
    settle(window)  # a graph this large is laid out in a worker
    assert s.graph_mode == "model" and len(s.graph.nodes) == len(s.bench.model.topology.all_nodes())
    assert len(s.circuit.nodes) < len(s.graph.nodes)
    name = s.graph.nodes[5]
    window.find_box.setText(name)
    window.find_box.returnPressed.emit()
    assert s.selection == [name]


def test_bad_circuit_file_is_reported_without_losing_the_open_one(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    bad = tmp_path / "broken.json"
    bad.write_text("{")
    circuit = window.session.circuit
    assert not window.files.guard("open the circuit", window.session.open_circuit, bad)
    assert "broken.json" in shown[0] and window.session.circuit is circuit


def test_a_prompt_longer_than_the_context_keeps_its_end(qtbot, default_model):
    from app.window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    s = window.session
    s.open_default()
    block = s.bench.model.config.block_size
    s.select([s.circuit.nodes[0]])  # the inspector shows the node on every new prompt
    s.set_prompt("x = 1\n" * block + "print(")
    assert len(s.ids) == block and s.position == block - 1
    assert s.tokens()[-1] == s.bench.tokenizer.token_text(s.bench.tokenizer.encode("print(")[-1])
    s.set_position(3)  # the inspector and the graph follow without errors
    assert s.current.position == 3


def test_the_header_gives_each_check_a_verdict_and_says_what_it_means(window):
    import dataclasses

    c = window.session.circuit
    full = 0.05
    checks = {
        "sufficiency_loss": 0.07,
        "necessity_loss": full + 0.001,
        "random_circuit_loss_mean": 0.5,
        "random_circuit_loss_std": 0.01,
        "zero_ablation_loss": 0.05,
        "heldout_loss": 0.08,
        "reinit_control_loss": 1.2,
    }
    window.session.set_circuit(dataclasses.replace(c, checks=checks, target_loss=0.15, loss_full=full))
    text = window.summary.text()
    assert "fails (without circuit)" in text and "lower is better" in text
    tip = window.summary.toolTip()
    assert "higher is better" in tip and "about as well without it" in tip


def test_a_circuit_of_another_model_is_refused_and_the_open_one_kept(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    s = window.session
    foreign = s.circuit.to_dict()
    foreign["model_fingerprint"] = "0123456789abcdef"
    path = tmp_path / "foreign.json"
    path.write_text(__import__("json").dumps(foreign))
    circuit = s.circuit
    window.files.open_circuit(str(path))
    assert "belongs to the model" in shown[0] and "foreign.json" in shown[0]
    assert s.circuit is circuit
