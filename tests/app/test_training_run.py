"""A task across a training run: the Training run panel opens an `experiment formation`
result; its slider opens each kept checkpoint with the circuit found there, overlaid on the last
step's (or the previous step's); a workspace keeps the step; bad folders are refused by name."""

import json
import shutil

import pytest
from safetensors.torch import save_file

from core.formation_result import FormationResult
from core.means import MEANS_FILE, compute_means
from core.pipelines.experiments import formation
from core.prune import PruneConfig
from core.tasks import BUILTIN_TASKS
from core.train import Trainer, snapshot_dirs
from core.workbench import Workbench
from tests.conftest import tiny_config, tiny_train_config

TASK = BUILTIN_TASKS["single_double_quote"]


@pytest.fixture(scope="module")
def formation_folder(tmp_path_factory, small_stream, tokenizer):
    """A tiny run kept at steps 10, 20 and 30 (its means beside each), and the task pruned at each."""
    run = tmp_path_factory.mktemp("run")
    cfg = tiny_train_config(steps=30, ckpt_every=10, keep_checkpoints=True)
    list(Trainer(run, tiny_config(), cfg, small_stream, tokenizer, "cpu").run())
    for _, folder in snapshot_dirs(run):
        model = Workbench(folder).model
        save_file(compute_means(model, small_stream, n_batches=2, batch_size=4), str(folder / MEANS_FILE))
    out = tmp_path_factory.mktemp("formation")
    events = formation(run, TASK, out, PruneConfig(target_loss=0.6, steps=8, fixed_k_steps=0), 16)
    try:
        while True:
            next(events)
    except StopIteration as done:
        (out / "result.json").write_text(json.dumps(done.value))
    return out


def open_run(window, qtbot, folder):
    window.files.open_formation(str(folder))
    qtbot.waitUntil(lambda: window.session.formation is not None and not window.session.busy, timeout=30_000)


def slide_to(window, qtbot, index):
    window.training_run.slider.setValue(index)
    qtbot.waitUntil(
        lambda: window.session.formation_index == index and not window.session.busy, timeout=30_000
    )


def test_the_slider_opens_each_steps_model_and_circuit_against_the_last(window, qtbot, formation_folder):
    s, panel = window.session, window.training_run
    open_run(window, qtbot, formation_folder)
    result = s.formation
    assert [x.step for x in result.steps] == [10, 20, 30]
    assert window.training_run_dock.isVisible()
    assert s.formation_index == 2 and s.comparison is None  # the last step, against itself
    assert s.bench.fingerprint == s.circuit.extra["model_fingerprint"]

    slide_to(window, qtbot, 0)
    step0 = result.steps[0]
    assert s.circuit_path == str(step0.circuit_path)
    assert s.bench.fingerprint == s.circuit.extra["model_fingerprint"]  # step 10's own weights
    assert s.bench.fingerprint != Workbench(result.steps[2].checkpoint).fingerprint
    assert s.compared_path == str(result.steps[2].circuit_path) and s.comparison is not None
    assert window.graph.overlay is not None  # both circuits drawn, by class
    text = panel.summary.text()
    assert "Step 10" in text and "Against step 30" in text and "Jaccard" in text
    assert panel.step_label.text() == "10 (1 of 3)"

    # Against the previous step instead; the step before is cached, so no model is opened.
    slide_to(window, qtbot, 1)
    panel.reference.setCurrentIndex(panel.reference.findData("previous"))
    panel._request()
    qtbot.waitUntil(lambda: s.formation_reference == "previous", timeout=10_000)
    assert s.compared_path == str(step0.circuit_path)
    bench = s.bench
    slide_to(window, qtbot, 0)
    assert s.comparison is None  # step 10 has no step before it
    slide_to(window, qtbot, 1)
    assert s.bench is bench

    # Opening a circuit of one's own leaves the run, and the comparison with another step.
    panel.reference.setCurrentIndex(panel.reference.findData("last"))
    slide_to(window, qtbot, 0)
    assert s.comparison is not None
    s.open_circuit(result.steps[0].circuit_path)
    assert s.formation is None and s.compared is None and not panel.slider.isEnabled()


def test_the_prompt_stays_and_a_cached_step_wins_over_one_still_opening(window, qtbot, formation_folder):
    s, panel = window.session, window.training_run
    open_run(window, qtbot, formation_folder)
    s.set_prompt("name = 'file")
    slide_to(window, qtbot, 1)
    assert s.prompt == "name = 'file" and s.current is not None
    # Step 10 starts opening; the user slides back to step 20 (cached) before it is done.
    panel.slider.setValue(0)
    panel._request()
    assert s.busy
    panel.slider.setValue(1)
    panel._request()
    assert not s.busy and s.formation_index == 1
    qtbot.wait(1500)  # long enough for step 10 to have opened, had it not been cancelled
    assert s.formation_index == 1 and panel.slider.value() == 1
    assert s.circuit_path == str(s.formation.steps[1].circuit_path)


def test_a_workspace_keeps_the_step_shown(window, qtbot, formation_folder, tmp_path):
    from app.workspace import load_workspace, save_workspace

    s = window.session
    open_run(window, qtbot, formation_folder)
    slide_to(window, qtbot, 0)
    path = tmp_path / "run.scws.json"
    save_workspace(path, s.workspace())
    s.open_default()
    s.restore_workspace(load_workspace(path), str(path))
    assert s.formation is not None and s.formation_index == 0 and s.formation_reference == "last"
    assert s.comparison is not None and s.compared_path == str(s.formation.steps[2].circuit_path)
    assert window.training_run.step_label.text() == "10 (1 of 3)"


def test_a_folder_that_is_not_a_formation_result_is_refused_by_name(
    window, qtbot, formation_folder, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QMessageBox

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    s = window.session
    before = s.circuit_path
    window.files.open_formation(str(tmp_path))
    assert warnings and str(tmp_path) in warnings[-1] and "result.json" in warnings[-1]

    moved = tmp_path / "moved"
    shutil.copytree(formation_folder, moved)
    data = json.loads((moved / "result.json").read_text())
    data["run"] = str(tmp_path / "gone")
    (moved / "result.json").write_text(json.dumps(data))
    window.files.open_formation(str(moved))
    assert "field 'run'" in warnings[-1] and "gone" in warnings[-1]
    assert s.formation is None and s.circuit_path == before


def test_a_result_names_its_missing_circuit(formation_folder, tmp_path):
    from core.fileio import FileFormatError

    copy = tmp_path / "copy"
    shutil.copytree(formation_folder, copy)
    assert len(FormationResult.load(copy).steps) == 3
    (copy / "circuits" / "step-000020" / f"{TASK.name}.json").unlink()
    with pytest.raises(FileFormatError, match=r"field 'points\[1\]'.*step-000020"):
        FormationResult.load(copy)


def test_a_result_moved_with_its_run_still_finds_the_run(formation_folder, tmp_path):
    recorded = json.loads((formation_folder / "result.json").read_text())["run"]
    root = tmp_path / "elsewhere"
    shutil.copytree(recorded, root / "run")
    shutil.copytree(formation_folder, root / "formation")
    data = json.loads((root / "formation" / "result.json").read_text())
    data["run"] = "/no/longer/here/run"  # where it was trained
    (root / "formation" / "result.json").write_text(json.dumps(data))
    result = FormationResult.load(root / "formation")
    assert result.run == (root / "run").resolve()
    assert all(s.checkpoint.is_relative_to(result.run) for s in result.steps)
