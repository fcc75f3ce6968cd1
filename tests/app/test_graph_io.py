"""The graph's inputs and outputs on the shipped model's quote circuit (the first-launch view):
the prompt's tokens the circuit reads and the two answers' logits, drawn, hovered, clicked,
exported, and left out of the whole model's view."""

import xml.etree.ElementTree as ET

import pytest
from PySide6.QtCore import QPointF, Qt

from app.views.graph_export import export_graph


@pytest.fixture
def shipped(qtbot):
    """The window on the shipped default model and its quote circuit, as at first launch."""
    from app.window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    w.session.open_default()
    assert w.session.circuit.task == "single_double_quote"
    return w


def test_the_quote_circuit_reads_its_tokens_and_feeds_both_answers(shipped):
    s, io = shipped.session, shipped.graph.io_items.io
    tokens = [s.bench.tokenizer.token_text(int(n.split(".")[1])) for n in io.names[: io.n_inputs]]
    opening = s.prompt.rfind("'") if s.example.correct.startswith("'") else s.prompt.rfind('"')
    # The opening quote is what the circuit must read (through its keys and values).
    assert any(t.strip().endswith(s.prompt[opening]) for t in tokens), tokens
    assert io.names[io.n_inputs :] == ["answer.correct", "answer.incorrect"]
    for answer in ("answer.correct", "answer.incorrect"):
        fed = [src for src, dst in zip(io.src, io.dst) if dst == answer]
        assert fed and all(".resid_delta." in src for src in fed)
    reads = {dst for src, dst in zip(io.src, io.dst) if src.startswith("token.")}
    assert reads and reads <= set(s.circuit.nodes) and all(".act_in." in r for r in reads)
    # Every edge of the inputs and outputs is drawn, and the answers carry their colour.
    assert len(shipped.graph.io_items.segments) == len(io.src)
    assert io.values[io.n_inputs] > 0  # the model prefers the correct answer


def _click(window, xy, button=Qt.LeftButton):
    from pytestqt.qtbot import QtBot

    view = window.graph
    scene = view.getViewBox().mapViewToScene(QPointF(*xy))
    QtBot.mouseClick(view.viewport(), button, pos=view.mapFromScene(scene))


def test_an_answer_shows_its_logit_before_and_after_and_is_never_selected(shipped):
    s, items = shipped.session, shipped.graph.io_items
    k = items.io.names.index("answer.correct")
    _click(shipped, items.pos[k])
    assert s.selection == [] and "Output: the correct answer" in shipped.statusBar().currentMessage()
    s.ablate("node", list(s.circuit.nodes), "mean")
    io = items.io
    assert "with your interventions" in io.details[k] and "unmodified" in io.details[k]
    assert io.values[k] < 0.5  # the circuit ablated, the preference for the answer falls
    _click(shipped, items.pos[0], Qt.RightButton)  # no ablation menu for a token
    assert not any(iv.target.startswith("token.") for iv in s.interventions)


def test_the_figure_has_the_tokens_and_answers_and_says_what_they_are(shipped, tmp_path):
    path = tmp_path / "graph.svg"
    export_graph(shipped.graph, path, "svg", "title", "subtitle")
    text = " ".join(t.strip() for t in ET.parse(path).getroot().itertext())
    io = shipped.graph.io_items.io
    assert all(line in text for label in io.labels for line in label.split("\n"))
    assert "the prompt's tokens whose embedding feeds a read" in text and "answers' logits" in text


def test_a_typed_prompt_gets_the_predicted_token_and_the_whole_model_none(shipped, qtbot):
    s = shipped.session
    s.set_prompt("x = (1")
    io = shipped.graph.io_items.io
    assert io.names[io.n_inputs :] == ["answer.predicted"]
    assert "top next token" in shipped.legend.text()
    s.set_graph_mode("model")  # laid out in a worker
    qtbot.waitUntil(lambda: s.graph is not None and len(s.graph.nodes) == s.bench.model.topology.n_nodes)
    assert s.graph_io() is None and not shipped.graph.io_items.shown
    assert "drawn in the circuit views" in shipped.legend.text()


def test_the_token_squares_stand_clear_of_the_row_labels(shipped, qtbot):
    view, items = shipped.graph, shipped.graph.io_items
    qtbot.waitUntil(lambda: items.shown, timeout=10_000)
    vb = view.getViewBox()
    labels_left = min(label.sceneBoundingRect().left() for label in view._labels[:8])
    squares_right = max(vb.mapViewToScene(QPointF(*xy)).x() for xy in items.pos[: items.io.n_inputs]) + 7
    assert squares_right + 2 <= labels_left
