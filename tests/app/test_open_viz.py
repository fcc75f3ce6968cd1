"""File ▸ Open circuit with one of OpenAI's viz_data.pt files: read in the background, with
the model beside its viz/ folder opened on the way."""

import shutil
from types import SimpleNamespace

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidgetItemIterator

from app.session import Session
from core.commands.bench import SMALL_SHAPE, write_openai_model
from core.formats import load_checkpoint
from core.provenance import fingerprint
from tests.conftest import FIXTURES

MODEL = FIXTURES / "openai_format" / "layernorm_bias_tied"
VIZ = FIXTURES / "openai_viz" / "viz" / "layernorm_bias_tied" / "single_double_quote" / "prune_v4" / "k_optim"


@pytest.fixture
def session():
    session = Session()
    yield session
    session.stop_jobs()  # its graph, outputs and scores may still be on their way


def open_and_wait(qtbot, session, path) -> list:
    failures = []
    session.job_failed.connect(lambda what, message: failures.append(message))
    with qtbot.waitSignal(session.job_done, timeout=120_000):
        session.open_circuit(path)
    return failures


def test_a_viz_file_opens_against_the_open_model_and_is_kept_inline(qtbot, session, monkeypatch):
    tasks = []
    monkeypatch.setattr(session, "set_task", tasks.append)  # scoring the task is tested elsewhere
    failures = open_and_wait(qtbot, session, VIZ / "viz_data.pt")  # no model open, none beside viz/
    assert "open the model first" in failures[0] and session.circuit is None
    # The fixture model's vocabulary is smaller than the tokenizer's, so no Workbench takes it:
    # an open model, as far as opening a circuit needs one.
    ckpt = load_checkpoint(MODEL)
    session.bench = SimpleNamespace(
        checkpoint=ckpt, model=ckpt.model, fingerprint=fingerprint(ckpt.model), ref=str(MODEL)
    )
    assert open_and_wait(qtbot, session, VIZ / "viz_data.pt") == []
    circuit = session.circuit
    assert circuit.n_edges >= 10 and circuit.extra["model_fingerprint"] == session.bench.fingerprint
    assert session.circuit_path is None  # a workspace stores it inline
    assert tasks and tasks[0].name == "single_double_quote"


def published(root):
    """OpenAI's layout: models/<model>/, viz/<model>/<task>/<sweep>/<k>/, tinypython/ above.
    Returns the sweep's folder."""
    write_openai_model(root / "models" / "toy", SMALL_SHAPE, density=0.25)
    shutil.copytree(FIXTURES / "tinypython", root / "tinypython")
    sweep = root / "viz" / "toy" / "single_double_quote" / "prune_v4"
    data = torch.load(VIZ / "viz_data.pt", weights_only=True)  # its channels fit the toy shape
    for k, final in (("k_optim", 0.5), ("8", 0.9), ("32", 0.2)):
        (sweep / k).mkdir(parents=True)
        torch.save({**data, "all_loss": [(0, 2.0), (1, final)]}, sweep / k / "viz_data.pt")
    return sweep


def test_a_published_circuit_opens_its_own_model_with_its_sweeps_loss_against_k(qtbot, session, tmp_path):
    sweep = published(tmp_path)
    assert open_and_wait(qtbot, session, sweep / "k_optim" / "viz_data.pt") == []
    assert session.bench.checkpoint.path == (tmp_path / "models" / "toy").resolve()
    circuit = session.circuit
    assert "0.mlp.post_act.30" in circuit.nodes and circuit.n_edges > 0
    assert circuit.extra["openai_viz"]["loss_vs_k"] == [[8, 0.45], [32, 0.1]]  # halved, as ours


def test_browsing_the_published_tree_plots_a_sweep_and_opens_the_chosen_k(qtbot, tmp_path):
    from app.views.viz_browser import VizBrowser

    sweep = published(tmp_path)
    browser = VizBrowser(tmp_path)
    qtbot.addWidget(browser)
    labels = []
    it = QTreeWidgetItemIterator(browser.tree)
    while it.value():
        labels.append(it.value().text(0))
        it += 1
    assert labels == ["toy", "single_double_quote", "prune_v4", "k_optim (the pruning's choice)", "8", "32"]
    leaf = browser.tree.findItems("32", Qt.MatchExactly | Qt.MatchRecursive)[0]
    browser.tree.setCurrentItem(leaf)
    qtbot.waitUntil(lambda: browser.curve_points == [(8, 0.45), (32, 0.1)], timeout=30_000)
    xs, ys = browser.marker.getOriginalDataset()
    assert list(xs) == [32] and list(ys) == [0.1]  # the chosen k, marked on the curve
    with qtbot.waitSignal(browser.chosen) as chosen:
        browser.open_button.click()
    assert chosen.args == [str(sweep / "32" / "viz_data.pt")]
