import numpy as np

from core.class_stats import class_activations, class_pairs


def _by_class(window, qtbot):
    window.inspector.tabs.setCurrentWidget(window.inspector.by_class)
    return window.inspector.by_class


def test_the_by_class_page_fills_in_for_a_circuit_node(window, qtbot):
    view, node = _by_class(window, qtbot), window.session.circuit.nodes[3]
    window.graph.node_clicked.emit(node, False)
    assert "held-out pairs…" in view.header.text()  # measured in the background
    qtbot.waitUntil(lambda: "of pairs differ" in view.stats.text(), timeout=20_000)
    assert "<code>&#x27;)</code>" in view.header.text() and "<code>&quot;)</code>" in view.header.text()
    assert len(view.classes.getPlotItem().items) == 2 and view.difference.getPlotItem().items
    # The numbers are core's, on the same pairs.
    s = window.session
    pairs = class_pairs(s.task, s.bench.tokenizer, s.bench.model.config.block_size)
    expected = list(class_activations(s.bench.model, pairs, [node]))[-1][node]
    shown = window.class_sampler.get(node)
    np.testing.assert_allclose(shown.class1, expected.class1, atol=1e-6)
    assert f"{expected.class1.mean():+.3f}" in view.stats.text()
    # The graph's other nodes came with it.
    assert window.class_sampler.get(s.circuit.nodes[0]) is not None


def test_an_intervention_measures_again_and_the_old_numbers_stay_cached(window, qtbot):
    view, s = _by_class(window, qtbot), window.session
    node = s.circuit.nodes[-1]
    window.graph.node_clicked.emit(node, False)
    qtbot.waitUntil(lambda: window.class_sampler.get(node) is not None, timeout=20_000)
    before = window.class_sampler.get(node)
    s.ablate("node", [node], "zero")
    assert window.class_sampler.get(node) is None  # another key: under the ablation
    qtbot.waitUntil(lambda: "under your interventions" in view.header.text(), timeout=20_000)
    assert not window.class_sampler.get(node).class1.any()  # the node itself is zeroed
    s.undo_stack.undo()
    assert window.class_sampler.get(node) is before  # from the cache


def test_a_hidden_page_runs_nothing(window, qtbot):
    window.inspector.tabs.setCurrentIndex(0)
    window.graph.node_clicked.emit(window.session.circuit.nodes[2], False)
    window.session.ablate("node", [window.session.circuit.nodes[1]])
    assert not window.class_sampler.job.running() and not window.class_sampler.cache


def test_no_task_says_so(window, qtbot):
    view = _by_class(window, qtbot)
    window.session.task = None
    window.graph.node_clicked.emit(window.session.circuit.nodes[0], False)
    assert "Choose a task" in view.header.text()
