import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

import core.pipelines.sampling


@pytest.fixture
def slow_sampling(monkeypatch):
    """Sampling as slow as on the full corpus (seconds), a bit shorter."""
    real = core.pipelines.sampling.node_activations

    def slow(*args, **kwargs):
        time.sleep(0.8)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(core.pipelines.sampling, "node_activations", slow)


def test_the_corpus_is_sampled_in_a_worker(window, qtbot, slow_sampling):
    inspector, nodes = window.inspector, window.session.circuit.nodes
    t0 = time.monotonic()
    window.graph.node_clicked.emit(nodes[0], False)
    assert time.monotonic() - t0 < 0.5  # the window did not wait for it
    assert "sampling corpus…" in inspector.examples.text()
    assert nodes[0] in inspector.title.text() and "On this prompt" in inspector.prompt_acts.text()
    assert window.sampler.job.running()
    qtbot.waitUntil(lambda: "Examples over the corpus" in inspector.examples.text(), timeout=20_000)
    assert inspector.histogram.getPlotItem().items  # the histogram is drawn
    assert "Corpus sampled" in window.log_panel.text.toPlainText()
    window.graph.node_clicked.emit(nodes[1], False)  # sampled along with the first
    assert "Examples over the corpus" in inspector.examples.text()
    assert not window.sampler.job.running()
    assert set(window.session.graph.nodes) <= set(window.sampler.sample.values)


def test_a_new_model_discards_a_sample_in_progress(window, qtbot, slow_sampling):
    window.graph.node_clicked.emit(window.session.circuit.nodes[0], False)
    old = window.sampler.job.handle
    window.files.open_default()
    qtbot.waitUntil(lambda: not window.session.busy, timeout=20_000)
    assert old.stop(5000)  # cancelled; its result is dropped
    qtbot.wait(50)
    assert window.sampler.sample is None and not window.sampler.job.running()
    window.graph.node_clicked.emit(window.session.circuit.nodes[0], False)
    assert window.sampler.job.handle is not old
    qtbot.waitUntil(lambda: window.sampler.sample is not None, timeout=20_000)


def test_long_lines_wrap_instead_of_widening_the_inspector(window, qtbot):
    inspector = window.inspector
    window.resizeDocks([window.findChild(QDockWidget, "Node inspector")], [360], Qt.Horizontal)
    window.graph.node_clicked.emit(window.session.circuit.nodes[0], False)
    qtbot.waitUntil(lambda: "Examples over the corpus" in inspector.examples.text(), timeout=20_000)
    qtbot.wait(50)
    body = inspector.widget()
    assert body.minimumSizeHint().width() <= inspector.viewport().width()
    assert body.width() <= inspector.viewport().width()


def test_token_shading_fades_into_the_scheme_background():
    from app.views.inspector import shade, token_html

    assert shade(0.0, 1.0) == "rgb(255,255,255)"
    assert shade(0.0, 1.0, paper=(30, 30, 30)) == "rgb(30,30,30)"  # dark scheme: no glare
    assert shade(1.0, 1.0, paper=(30, 30, 30)) == "rgb(214,96,77)"
    html = token_html(["a", "b"], [0.0, -1.0], focus=1, paper=(30, 30, 30), ink="#dddddd")
    assert "color:#dddddd" in html and "rgb(67,147,195)" in html


def test_edge_lists_come_from_the_csr_index_and_match_a_full_walk():
    from app.bench import synthetic_graph
    from app.views.inspector import graph_edges

    g = synthetic_graph(n_nodes=640, n_edges=3000, n_layer=2)
    for i in (0, 17, 300):
        node = g.nodes[i]
        ins, outs = graph_edges(g, node)
        walk_in = sorted((g.nodes[s], float(w)) for s, d, w in zip(g.src, g.dst, g.weight) if d == i)
        walk_out = sorted((g.nodes[d], float(w)) for s, d, w in zip(g.src, g.dst, g.weight) if s == i)
        assert sorted(ins) == walk_in and sorted(outs) == walk_out
