"""The Attention view: a circuit head's kept-q/k pattern beside the full one, recomputed when
the prompt, the interventions or the circuit change."""

from types import SimpleNamespace

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QToolTip

from app.views.text import visible
from core.attention_view import head_pattern, kept_channels
from tests.app.conftest import settle


def shown(window):
    a = window.attention
    return a.kept.image.image.copy(), a.full.image.image.copy(), a.qk.image.image.copy()


def expected(window, layer, head, interventions=()):
    """The patterns as core computes them for the session's prompt and circuit."""
    s = window.session
    q, k = kept_channels(s.bench.model, s.circuit.nodes, layer, head)
    return head_pattern(
        s.bench.model, s.ids, layer, head, q, k, interventions, s.bench.means, "mean", (q[0], k[0])
    )


def as_drawn(pattern, sink):
    m = pattern.copy()
    m[np.triu_indices(len(m), 1)] = np.nan
    return np.concatenate([sink[:, None], m], 1)


def test_the_view_shows_a_circuit_heads_kept_pattern_beside_the_full_one(window, menu_action, qtbot):
    settle(window)
    menu_action("View", "Attention").trigger()
    qtbot.waitUntil(lambda: window.attention_dock.isVisible())
    a = window.attention
    # The tiny circuit keeps q/k channels 0..5 of each layer: head 0 of layer 0 comes first.
    assert a.head_box.currentData() == (0, 0)
    assert "circuit: 6 q, 6 k" in a.head_box.currentText()
    assert [a.q_box.itemData(i) for i in range(a.q_box.count())] == list(range(6))
    kept, full, qk = shown(window)
    p = expected(window, 0, 0)
    n = len(window.session.ids)
    assert kept.shape == full.shape == (n, n + 1)  # the sink first, then every key
    np.testing.assert_allclose(full, as_drawn(p.full, p.sink_full), atol=1e-12)
    np.testing.assert_allclose(kept, as_drawn(p.kept, p.sink_kept), atol=1e-12)
    np.testing.assert_allclose(qk, p.qk, atol=1e-12)
    assert np.nanmax(np.abs(kept[:, 1:] - full[:, 1:])) > 1e-3  # two different patterns
    assert (
        "kept q/k channels" in a.kept.plot.titleLabel.text and "full head 0.0" in a.full.plot.titleLabel.text
    )
    # The chosen token (the last) is outlined.
    ys = a.full.row.getData()[1]
    assert min(ys) == n - 1.5 and max(ys) == n - 0.5
    # The other q/k channels at zero instead: the scores summed over the kept channels.
    a.others_box.setCurrentIndex(a.others_box.findData("zero"))
    a.others_box.activated.emit(a.others_box.currentIndex())
    s = window.session
    q, k = kept_channels(s.bench.model, s.circuit.nodes, 0, 0)
    zero = head_pattern(s.bench.model, s.ids, 0, 0, q, k, (), None, "zero")
    np.testing.assert_allclose(shown(window)[0], as_drawn(zero.kept, zero.sink_kept), atol=1e-12)
    assert "others zero" in a.kept.plot.titleLabel.text
    # Without a circuit the head stays, and no channel is kept.
    s.set_circuit(None)
    assert a.head_box.currentData() == (0, 0) and window.head_attention.pattern.kept_q == []


def test_the_view_updates_after_an_ablation_and_its_undo(window, qtbot):
    settle(window)
    window.show_attention()
    qtbot.waitUntil(lambda: window.attention_dock.isVisible())
    s = window.session
    before = shown(window)
    with qtbot.waitSignal(window.head_attention.ready, timeout=5000):
        s.ablate("node", ["0.attn.k.2", "0.attn.q.7"], "zero")
    kept, full, _ = shown(window)
    p = expected(window, 0, 0, s.interventions)
    np.testing.assert_allclose(full, as_drawn(p.full, p.sink_full), atol=1e-12)
    np.testing.assert_allclose(kept, as_drawn(p.kept, p.sink_kept), atol=1e-12)
    assert np.nanmax(np.abs(full - before[1])) > 1e-4 and np.nanmax(np.abs(kept - before[0])) > 1e-4
    assert "Under 2 interventions" in window.attention.caption.text()
    s.undo_stack.undo()
    np.testing.assert_allclose(shown(window)[1], before[1], atol=1e-12)


def test_a_q_or_k_node_opens_its_head_and_a_row_click_picks_the_token(window, qtbot):
    settle(window)
    s = window.session
    s.select(["1.attn.v.9"])
    assert "Attention of this head" in window.inspector.title.text()
    window.inspector.attention_requested.emit("1.attn.v.9")  # the link in the inspector's title
    qtbot.waitUntil(lambda: window.attention_dock.isVisible())
    a = window.attention
    assert a.head_box.currentData() == (1, 1)  # channel 9 of 8-channel heads
    assert window.head_attention.pattern.layer == 1 and window.head_attention.pattern.head == 1
    # A head the circuit keeps no q/k channels of: the q·k combos list all of its channels.
    assert a.q_box.count() == 8 and a.kept.plot.titleLabel.text.startswith("kept q/k channels")
    s.set_position(1)
    ys = a.kept.row.getData()[1]
    assert min(ys) == 0.5 and max(ys) == 1.5
    # Hovering a cell names its tokens and value; clicking a row chooses that token.
    n = len(s.ids)
    centre = a.full.plot.getViewBox().mapViewToScene(QPointF(0, n - 1))
    assert a.full.cell_at(centre) == (n - 1, 0)
    a._hover(centre)
    tokens = [visible(t) for t in s.tokens()]
    value = window.head_attention.pattern.full[n - 1, 0]
    assert QToolTip.text() == f"query {tokens[-1]!r} ({n - 1}) → key {tokens[0]!r} (0): attention {value:.3f}"
    a._clicked(SimpleNamespace(scenePos=lambda: centre))
    assert s.position == n - 1


def test_a_hidden_view_computes_nothing_until_shown(window, qtbot):
    settle(window)
    a, s = window.head_attention, window.session
    assert not window.attention_dock.isVisible() and a.pattern is None
    s.set_prompt('x = "a b c"')
    assert a.pattern is None
    window.show_attention()
    qtbot.waitUntil(lambda: a.pattern is not None)
    assert a.pattern.full.shape[0] == len(s.ids)


def test_a_large_models_head_is_computed_in_a_worker(window, qtbot, monkeypatch):
    import app.head_attention

    settle(window)
    monkeypatch.setattr(app.head_attention, "INLINE_MODEL_PARAMS", 0)
    with qtbot.waitSignal(window.head_attention.ready, timeout=10000):
        window.show_attention()
        assert window.head_attention.computing
        assert "computing" in window.attention.caption.text()
    p = expected(window, 0, 0)
    np.testing.assert_allclose(window.head_attention.pattern.full, p.full, atol=1e-12)


def test_bottom_docks_fit_a_laptops_window_beside_the_outputs(window, menu_action, qtbot):
    """At 90% of 1366x768 the Attention view gets half the height and the Pruning panel a
    third, and neither grows the window (the outputs column needs ~500 px of its height)."""
    settle(window)
    window.resize(1229, 691)
    qtbot.wait(50)
    menu_action("View", "Attention").trigger()
    qtbot.wait(50)
    assert window.size().height() == 691
    assert window.attention_dock.height() >= 0.4 * 691
    assert window.attention.full.plot.getViewBox().height() >= 180
    menu_action("Model", "Prune a circuit…").trigger()
    qtbot.wait(50)
    assert window.pruning_dock.isVisible() and window.size().height() == 691
    assert window.graph.height() >= 0.3 * 691
