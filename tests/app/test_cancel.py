"""Cancel takes effect within a second for every background job, and closing the window while
one runs ends its thread cleanly."""

import time

import pytest
from PySide6.QtWidgets import QApplication

from app.window import MainWindow
from core.data.sources import TrainingData
from core.node_stats import node_activations
from tests.app.conftest import settle


@pytest.fixture
def window(qtbot, default_model, small_stream, tokenizer, monkeypatch, tmp_path):
    import core.pipelines.training

    monkeypatch.setattr(
        core.pipelines.training,
        "load_training_data",
        lambda corpus=None, tokenizer=None: TrainingData(small_stream, tokenizer_, "test corpus"),
    )
    tokenizer_ = tokenizer
    # The test corpus is one batch, sampled in a few ms: too quick to be caught running. One
    # sequence a batch, each taking a while, is the long sample of a big corpus or model.
    import core.pipelines.sampling

    def slow_activations(model, ids, nodes):
        for item in node_activations(model, ids, nodes, batch_size=1):
            time.sleep(0.02)
            yield item

    monkeypatch.setattr(core.pipelines.sampling, "node_activations", slow_activations)
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.session.open_default()
    w.training.preset.setCurrentText("tiny")
    w.training.steps.setValue(5000)
    w.training.out.setText(str(tmp_path / "run"))
    w.pruning.steps.setValue(5000)
    return w


def start_training(w, qtbot):
    w.training.start()
    qtbot.waitUntil(lambda: len(w.training.steps_x) >= 2, timeout=60_000)
    return w.training.handle


def start_pruning(w, qtbot):
    w.pruning.start()
    qtbot.waitUntil(lambda: len(w.pruning.losses) >= 2, timeout=60_000)
    return w.pruning.handle


def start_sampling(w, qtbot):
    w.sampler.request(w.session.circuit.nodes[0], w.session.bench.model.topology.all_nodes())
    qtbot.waitUntil(lambda: w.sampler.sample is not None, timeout=60_000)  # tokens read: running the model
    return w.sampler.job.handle


def start_effects(w, qtbot):
    w.effect_action.trigger()
    qtbot.waitUntil(lambda: bool(w.graph.effects), timeout=60_000)
    return w.effects.job.handle


def cancel(w, kind):
    {
        "training": w.training.cancel,
        "pruning": w.pruning.cancel,
        "sampling": w.sampler.job.cancel,
        "effects": w.effect_action.trigger,
    }[kind]()


JOBS = {
    "training": start_training,
    "pruning": start_pruning,
    "sampling": start_sampling,
    "effects": start_effects,
}


@pytest.mark.parametrize("kind", list(JOBS))
def test_cancel_takes_effect_within_a_second(window, qtbot, kind):
    handle = JOBS[kind](window, qtbot)
    assert handle is not None and handle.running()
    started = time.perf_counter()
    cancel(window, kind)
    while handle.running():
        QApplication.processEvents()
        assert time.perf_counter() - started < 1.0, f"{kind} still running after 1 s"
        time.sleep(0.005)
    print(f"{kind} stopped {1000 * (time.perf_counter() - started):.0f} ms after cancel")


@pytest.mark.parametrize("kind", list(JOBS))
def test_closing_the_window_mid_job_ends_its_thread(window, qtbot, qtlog, kind):
    handle = JOBS[kind](window, qtbot)
    window.close()
    assert not handle.running()  # closeEvent waited for it
    settle(window)
    assert not [r for r in qtlog.records if "Destroyed while thread" in r.message]
