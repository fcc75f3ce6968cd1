import functools

import numpy as np
import pytest

import app.ablation_effects
import core.pipelines.effects
from app.views.graph import NEGATIVE, POSITIVE, WIDTH_BUCKETS
from core.interventions import Intervention
from core.outputs import predict


@pytest.fixture
def one_node_batches(monkeypatch):
    """Deliver every node's effect on its own, so a run is many updates long."""
    monkeypatch.setattr(
        app.ablation_effects,
        "ablation_effects",
        functools.partial(core.pipelines.effects.ablation_effects, batch_s=0.0),
    )


def expected_effect(session, node, extra=()):
    b = session.bench
    base = predict(
        b.model, b.tokenizer, session.ids, list(extra), b.means, session.candidates, session.position
    )
    ablated = predict(
        b.model,
        b.tokenizer,
        session.ids,
        [*extra, Intervention("node", node, "mean")],
        b.means,
        session.candidates,
        session.position,
    )
    return ablated.logit_diff - base.logit_diff


def colours(graph) -> list:
    return graph.node_colours()


def test_effects_fill_in_as_they_arrive_and_match_core(window, qtbot, one_node_batches):
    s, graph = window.session, window.graph
    edge = s.circuit.edges[0]
    window.graph.ablate_requested.emit("edge", [f"{edge['src']}->{edge['dst']}"], "mean")
    by_activation = colours(graph)
    partial = []
    window.effects.updated.connect(
        lambda: partial.append(len(graph.effects)) if graph.effects is not None else None
    )
    with qtbot.waitSignal(window.effects.finished, timeout=20_000):
        window.effect_action.trigger()  # the "Ablation effect" button
        assert window.effect_action.isChecked()
    n = len(s.circuit.nodes)
    assert set(graph.effects) == set(s.circuit.nodes)
    assert len(partial) > 2 and partial[0] < n and partial[-1] == n  # painted progressively
    assert window.effect_progress.text() == f"{n}/{n} nodes"
    iv = s.interventions[0]
    strongest = max(graph.effects, key=lambda k: abs(graph.effects[k]))
    for node in (s.circuit.nodes[0], strongest):
        assert graph.effects[node] == pytest.approx(expected_effect(s, node, [iv]), abs=1e-5)
    i = graph.graph.index()[strongest]
    assert f"ablation effect on the logit difference: {graph.effects[strongest]:+.3f}" in graph.describe_node(
        i
    )
    end = 0 if graph.effects[strongest] < 0 else len(graph.palette_brushes) - 1
    assert colours(graph)[i] == graph.palette_brushes[end].color().getRgb()
    assert colours(graph) != by_activation
    window.effect_action.trigger()  # off: back to activations
    assert graph.effects is None and "ablation effect" not in graph.describe_node(i)
    assert colours(graph) == by_activation


def test_a_change_stops_the_run_cleanly(window, qtbot, one_node_batches):
    s = window.session
    changes = [
        (window.effect_action.trigger, None),  # the user switches it off
        (lambda: s.set_prompt("x = [1, 2"), "the prompt changed"),
        (lambda: s.set_position(1), "the token position changed"),
        (lambda: s.ablate("node", [s.circuit.nodes[0]], "zero"), "the interventions changed"),
        (window.files.open_default, "the model changed"),
    ]
    for act, reason in changes:
        done = []

        def change_mid_run(act=act, done=done):
            if window.graph.effects and not done:
                done.append(len(window.graph.effects))
                act()

        window.effects.updated.connect(change_mid_run)
        window.effect_action.trigger()
        qtbot.waitUntil(lambda done=done: bool(done) and not s.busy, timeout=20_000)
        window.effects.updated.disconnect(change_mid_run)
        assert done[0] < len(s.circuit.nodes), reason  # it was stopped mid-run
        assert window.graph.effects is None and not window.effect_action.isChecked()
        assert not window.effects.running and window.effect_progress.text() == ""
        assert window.effects.job.stop(2000)  # its thread ends
        qtbot.wait(50)  # a late report changes nothing
        assert window.graph.effects is None
        if reason:
            assert f"Ablation effect overlay off: {reason}" in window.log_panel.text.toPlainText()


def test_without_a_circuit_there_is_no_overlay(qtbot, default_model):
    from app.window import MainWindow

    window = MainWindow()  # as when the default model could not be opened
    qtbot.addWidget(window)
    window.effect_action.trigger()
    assert not window.effect_action.isChecked() and not window.effects.running
    assert "circuit" in window.statusBar().currentMessage()


def test_closing_mid_run_exits_cleanly(window, qtbot, one_node_batches):
    running = []

    def close_mid_run():
        if window.graph.effects and not running:
            running.append(window.effects.job.handle)
            window.close()

    window.effects.updated.connect(close_mid_run)
    window.effect_action.trigger()
    qtbot.waitUntil(lambda: bool(running), timeout=10_000)
    assert running[0] is not None and not running[0].running()


def pen_of(graph, e):
    """The pen the edge raster draws edge `e` with."""
    g = graph.graph
    segment = np.concatenate([g.pos[g.src[e]], g.pos[g.dst[e]]])
    for xy, pen in graph.edge_raster.layers:
        if (np.abs(xy.reshape(-1, 4) - segment).max(axis=1) < 1e-9).any():
            return pen
    return None


def test_edge_effects_fill_in_and_match_core(window, qtbot, one_node_batches):
    s, graph = window.session, window.graph
    edges = [f"{e['src']}->{e['dst']}" for e in s.circuit.edges]
    g = graph.graph
    by_weight = [(pen.color().getRgb(), pen.widthF()) for _, pen in graph.edge_raster.layers]
    partial = []
    window.edge_effects.updated.connect(lambda: partial.append(len(graph.edge_effects or ())))
    with qtbot.waitSignal(window.edge_effects.finished, timeout=60_000):
        window.edge_effect_action.trigger()  # the "Edge effect" button
    n = len(edges)
    assert set(graph.edge_effects) == set(edges) and graph.effects is None  # the nodes' overlay is apart
    assert len(partial) > 2 and partial[0] < n and partial[-1] == n
    assert window.edge_effect_progress.text() == f"{n}/{n} edges"
    strongest = max(graph.edge_effects, key=lambda k: abs(graph.edge_effects[k]))
    b = s.bench
    base = predict(b.model, b.tokenizer, s.ids, [], b.means, s.candidates, s.position)
    cut = [Intervention("edge", strongest)]
    cut = predict(b.model, b.tokenizer, s.ids, cut, b.means, s.candidates, s.position)
    assert graph.edge_effects[strongest] == pytest.approx(cut.logit_diff - base.logit_diff, abs=1e-5)
    e = next(i for i in range(len(g.src)) if graph.edge_name(i) == strongest)
    value = graph.edge_effects[strongest]
    assert f"ablation effect on the logit difference: {value:+.3f}" in graph.describe_edge(e)
    pen = pen_of(graph, e)  # the widest, in the colour of its sign
    assert pen.widthF() == WIDTH_BUCKETS[-1]
    assert pen.color().getRgb()[:3] == (POSITIVE if value > 0 else NEGATIVE)
    assert "when the edge alone is mean-ablated" in window.legend.text()
    window.edge_effect_action.trigger()  # off: back to weights
    assert graph.edge_effects is None and "ablation effect" not in graph.describe_edge(e)
    assert [(p.color().getRgb(), p.widthF()) for _, p in graph.edge_raster.layers] == by_weight
    assert "positive weight" in window.legend.text()
