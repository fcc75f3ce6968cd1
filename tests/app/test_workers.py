import time

import pytest
import torch

from app.window import MainWindow
from core.data.sources import TrainingData
from tests.app.conftest import settle


@pytest.fixture
def window(qtbot, default_model, small_stream, tokenizer, monkeypatch, tmp_path):
    import core.pipelines.training

    tokenizer_ = tokenizer
    monkeypatch.setattr(
        core.pipelines.training,
        "load_training_data",
        lambda corpus=None, tokenizer=None: TrainingData(small_stream, tokenizer_, "test corpus"),
    )
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.session.open_default()
    w.training.preset.setCurrentText("tiny")
    w.training.out.setText(str(tmp_path / "run"))
    return w


def test_training_runs_in_a_worker_and_opens(window, qtbot, tmp_path):
    panel = window.training
    panel.steps.setValue(25)
    panel.start()
    assert not panel.start_button.isEnabled()
    # Waits on state, not on a signal that may already have fired on a fast machine.
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=180_000)
    assert panel.progress.value() == 25
    assert panel.loss_curve.getData()[0][-1] == 25
    assert (tmp_path / "run" / "checkpoint" / "model.safetensors").is_file()
    assert panel.open_button.isEnabled()
    assert not (tmp_path / "run" / "checkpoint" / "means.safetensors").exists()
    panel.open_button.click()  # reads the checkpoint and computes its means, in a worker
    settle(window)
    assert window.session.bench.checkpoint.path == tmp_path / "run" / "checkpoint"
    assert (tmp_path / "run" / "checkpoint" / "means.safetensors").is_file()
    log = window.log_panel.text.toPlainText()
    assert "Training started: preset tiny, 25 steps" in log and "Training finished" in log


def test_training_cancels_within_a_second(window, qtbot, tmp_path):
    panel = window.training
    panel.steps.setValue(100_000)
    panel.start()
    qtbot.waitUntil(lambda: panel.progress.value() >= 3, timeout=60_000)
    t0 = time.monotonic()
    panel.cancel()
    with qtbot.waitSignal(panel.handle.worker.finished, timeout=5_000) as done:
        pass
    assert time.monotonic() - t0 < 1.0
    assert done.args == [False]
    assert (tmp_path / "run" / "checkpoint" / "train_state.json").is_file()  # resumable
    assert panel.start_button.isEnabled()


def test_pause_holds_the_run(window, qtbot):
    panel = window.training
    panel.steps.setValue(100_000)
    panel.start()
    qtbot.waitUntil(lambda: panel.progress.value() >= 2, timeout=60_000)
    panel.toggle_pause()
    qtbot.wait(300)
    held = panel.progress.value()
    qtbot.wait(500)
    assert panel.progress.value() == held
    panel.toggle_pause()
    qtbot.waitUntil(lambda: panel.progress.value() > held, timeout=10_000)
    assert panel.stop()


def test_pruning_runs_in_a_worker_and_opens_the_circuit(window, qtbot):
    panel = window.pruning
    panel.task.setCurrentIndex(panel.task.findData("bracket_counting"))
    panel.steps.setValue(15)
    panel.target.setValue(0.69)
    panel.checks.setChecked(False)
    with qtbot.waitSignal(panel.circuit_ready, timeout=60_000) as got:
        panel.start()
    circuit = got.args[0]
    assert circuit.task == "bracket_counting"
    assert window.session.circuit is circuit
    assert window.session.graph.nodes == circuit.nodes
    # The GUI's model was pruned in place of a copy, and stays read-only.
    assert not window.session.bench.model.transformer.h[0].mlp.c_fc.weight.requires_grad
    log = window.log_panel.text.toPlainText()
    assert "Pruning started: bracket_counting" in log
    assert f"Pruning finished: bracket_counting, {circuit.n_nodes} nodes" in log


def test_closing_mid_run_exits_cleanly(window, qtbot):
    panel = window.training
    panel.steps.setValue(100_000)
    panel.start()
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=60_000)
    window.close()
    assert not panel.handle.running()


def test_background_jobs_run_the_guis_model_without_a_copy(window, qtbot, monkeypatch):
    """Pruning, the corpus sample and the ablation effects all run the very model object the
    GUI runs (hooks are per thread), so a job never doubles the memory a model takes."""
    import copy

    import core.node_stats
    import core.prune

    seen, copies = [], []
    real_deepcopy = copy.deepcopy

    def deepcopy(x, memo=None):
        if isinstance(x, torch.nn.Module):
            copies.append(type(x).__name__)
        return real_deepcopy(x, memo)

    monkeypatch.setattr(copy, "deepcopy", deepcopy)
    real_init = core.prune.Pruner.__init__
    monkeypatch.setattr(
        core.prune.Pruner,
        "__init__",
        lambda self, model, *a, **k: (seen.append(("prune", model)), real_init(self, model, *a, **k))[1],
    )
    real_sample = core.node_stats.node_activations
    monkeypatch.setattr(
        "core.pipelines.sampling.node_activations",
        lambda model, *a, **k: (seen.append(("sample", model)), real_sample(model, *a, **k))[1],
    )
    import app.ablation_effects

    real_effects = app.ablation_effects.ablation_effects
    monkeypatch.setattr(
        app.ablation_effects,
        "ablation_effects",
        lambda model, *a, **k: (seen.append(("effects", model)), real_effects(model, *a, **k))[1],
    )
    model = window.session.bench.model
    panel = window.pruning
    panel.steps.setValue(5)
    panel.checks.setChecked(False)
    with qtbot.waitSignal(panel.circuit_ready, timeout=60_000):
        panel.start()
    node = window.session.circuit.nodes[0]
    window.sampler.request(node)
    qtbot.waitUntil(lambda: window.sampler.has(node), timeout=30_000)
    assert window.effects.start() is None
    qtbot.waitUntil(lambda: len(window.effects.effects or ()) == window.effects.total, timeout=60_000)
    assert [kind for kind, _ in seen] == ["prune", "sample", "effects"]
    assert all(m is model for _, m in seen)
    assert window.effects.effects and not copies


def test_pruning_with_checks_shows_the_checks_as_their_own_stage(window, qtbot):
    panel = window.pruning
    panel.steps.setValue(5)
    panel.checks.setChecked(True)
    texts = []
    original = panel.status.setText
    panel.status.setText = lambda text: (texts.append(text), original(text))[1]
    with qtbot.waitSignal(panel.circuit_ready, timeout=120_000) as got:
        panel.start()
    assert set(got.args[0].checks) >= {"sufficiency_loss", "reinit_control_loss"}
    assert any(t.startswith("Masks, step") for t in texts)
    assert any(t.startswith("Faithfulness checks, 6/6: re-init control") for t in texts)
    assert panel.progress.value() == 1000 or "Opened in the graph" in texts[-1]


def test_a_cancelled_run_can_be_opened_and_resumed(window, qtbot, tmp_path):
    panel = window.training
    panel.preset.setCurrentText("small")
    panel.preset.setCurrentText("tiny")
    assert panel.out.text() == str(tmp_path / "run")  # a typed folder is kept
    panel.steps.setValue(40)
    panel.start()
    qtbot.waitUntil(lambda: panel.progress.value() >= 5, timeout=60_000)
    panel.cancel()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10_000)
    assert panel.out.text() == str(tmp_path / "run")
    assert panel.open_button.isEnabled() and panel.resume_button.isEnabled()
    assert "Resume run continues it" in panel.status.text()
    stopped = panel.steps_x[-1]
    panel.resume()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=180_000)
    assert panel.steps_x[0] > 1 and panel.steps_x[-1] == 40 and stopped < 40
    assert "Training resumed" in window.log_panel.text.toPlainText()
    panel.open_button.click()
    settle(window)
    assert window.session.bench.checkpoint.path == tmp_path / "run" / "checkpoint"


def test_an_unwritable_run_folder_is_refused_before_training(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    (tmp_path / "a-file").write_text("")
    window.training.out.setText(str(tmp_path / "a-file" / "run"))
    window.training.start()
    qtbot.waitUntil(lambda: bool(shown), timeout=20_000)
    assert "a-file is a file, not a folder" in shown[0]
    assert window.training.steps_x == []  # not one step was trained
