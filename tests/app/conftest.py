import shutil

import pytest
import torch
from PySide6.QtCore import QSettings
from safetensors.torch import save_file

from core.checks import circuit_loss
from core.circuit import Circuit, extract_edges
from core.means import MEANS_FILE, compute_means
from core.taskeval import evaluate
from core.tasks import BUILTIN_TASKS
from core.topology import LOCATIONS
from core.train import CHECKPOINT_DIR, Trainer
from core.workbench import Workbench
from tests.conftest import tiny_config, tiny_train_config


@pytest.fixture(scope="session")
def tiny_default(tmp_path_factory, small_stream, tokenizer):
    """A folder laid out like resources/default_model, with a tiny model and its circuit."""
    run = tmp_path_factory.mktemp("run")
    list(
        Trainer(
            run, tiny_config(), tiny_train_config(steps=30, ckpt_every=30), small_stream, tokenizer, "cpu"
        ).run()
    )
    folder = tmp_path_factory.mktemp("default") / "default_model"
    folder.mkdir()
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        shutil.copy2(run / CHECKPOINT_DIR / name, folder / name)
    bench = Workbench(folder)
    means = compute_means(bench.model, small_stream, n_batches=2, batch_size=4)
    save_file(means, str(folder / MEANS_FILE))
    bench.__dict__["means"] = means
    # A fixed node set (the pruner has its own tests): a few channels at every location.
    nodes = [f"{layer}.{loc}.{i}" for layer in (0, 1) for loc in LOCATIONS for i in range(6)]
    batch = bench.batch(BUILTIN_TASKS["single_double_quote"], 32)
    circuit = Circuit(
        "single_double_quote",
        0.15,
        "mean",
        nodes,
        extract_edges(bench.model, nodes),
        evaluate(bench.model, batch)["task_loss"],
        circuit_loss(bench.model, batch, nodes, means),
    )
    (folder / "circuits").mkdir()
    circuit.save(folder / "circuits" / "single_double_quote.json")
    return folder


@pytest.fixture
def default_model(tiny_default, monkeypatch, small_stream):
    import app.session
    import core.workbench

    monkeypatch.setattr(core.workbench, "default_model_dir", lambda: tiny_default)
    monkeypatch.setattr(app.session, "default_model_dir", lambda: tiny_default)
    # Sampling the corpus for the inspector reads the small test stream, not the full corpus.
    monkeypatch.setattr(core.workbench.Workbench, "stream", lambda self, quick=False: small_stream)
    return tiny_default


@pytest.fixture(autouse=True)
def app_settings_in_tmp(tmp_path, monkeypatch):
    """The app's QSettings (window layout, recent files) go to a fresh folder for each test,
    never to the user's own; `app.settings` names the file."""
    import app.settings

    folder = tmp_path / "settings"
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(folder))
    monkeypatch.setattr(app.settings, "ORGANIZATION", "SparseCircuitsTests")
    return folder


@pytest.fixture
def window(qtbot, default_model):
    from app.window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.session.open_default()
    return w


@pytest.fixture
def menu_action(window):
    """menu_action("File", "Open Recent", "Clear Recent"): an action found by its menu path,
    as a user finds it (the '&' of shortcuts ignored)."""

    def find(*path):
        actions = window.menuBar().actions()
        for name in path:
            action = next((a for a in actions if a.text().replace("&", "") == name), None)
            assert action is not None, f"no {name!r} in {[a.text() for a in actions]}"
            actions = action.menu().actions() if action.menu() is not None else []
        return action

    return find


def settle(window, timeout_s: float = 30.0) -> None:
    """Let a model that is opening in the background finish opening (and its graph and
    outputs arrive), as a user would wait for the progress bar."""
    import time

    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    s = window.session
    while s.busy or s.scoring or s._graph_job.running() or s._predict_job.running():
        assert time.monotonic() < deadline, "the model did not finish opening"
        QApplication.processEvents()
        time.sleep(0.005)


@pytest.fixture(autouse=True)
def torch_threads_restored():
    """The window leaves a core to the GUI (torch threads = cores - 1) for the whole process:
    put the count back for the tests that follow."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
