"""The Pruning panel draws the current circuit's loss-versus-k curve."""

import pytest

from app.session import Session
from app.views.loss_vs_k import k_axis
from app.views.pruning import PruningPanel
from core.circuit import Circuit

CURVE = [[0, 0.72], [1, 0.7], [8, 0.5], [22, 0.16], [23, 0.13], [24, 0.12], [64, 0.05], [2816, 0.017]]


@pytest.fixture
def panel(qtbot):
    session = Session()
    panel = PruningPanel(session)
    qtbot.addWidget(panel)
    return session, panel


def test_the_panel_shows_the_circuits_curve_the_chosen_k_and_the_target(panel):
    session, panel = panel
    plot = panel.loss_vs_k
    assert "no circuit" in plot.plotItem.titleLabel.text and not plot.target.isVisible()
    nodes = [f"0.mlp.post_act.{i}" for i in range(23)]
    session.set_circuit(Circuit("single_double_quote", 0.15, "mean", nodes, [], 0.017, 0.13, loss_vs_k=CURVE))
    xs, ys = plot.curve.getData()
    assert list(xs) == pytest.approx([k_axis(k) for k, _ in CURVE]) and list(ys) == [y for _, y in CURVE]
    assert list(plot.chosen.getData()[1]) == [0.13] and plot.k_line.value() == pytest.approx(k_axis(23))
    assert plot.target.value() == 0.15 and plot.target.isVisible()
    assert "k = 23" in plot.plotItem.titleLabel.text
    # A circuit written before the curve was kept: nothing drawn, and the title says why.
    session.set_circuit(Circuit("single_double_quote", 0.15, "mean", nodes, [], 0.017, 0.13))
    xs, _ = plot.curve.getData()
    assert (xs is None or len(xs) == 0) and not plot.k_line.isVisible()
    assert "not recorded" in plot.plotItem.titleLabel.text
    # One of OpenAI's circuits: its sweep's losses per k, as the circuit browser read them.
    sweep = Circuit("single_double_quote", 0.15, "mean", nodes, [], 0.017, 0.13)
    sweep.extra["openai_viz"] = {"loss_vs_k": [[8, 0.4], [23, 0.13], [64, 0.05]]}
    session.set_circuit(sweep)
    assert (
        list(plot.curve.getData()[1]) == [0.4, 0.13, 0.05]
        and "OpenAI's sweep" in plot.plotItem.titleLabel.text
    )
