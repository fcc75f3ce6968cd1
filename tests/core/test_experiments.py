"""The paper's experiments on tiny models: kept checkpoints, formation, sparse vs dense."""

import json
import math

import pytest

from core.cli import main
from core.data.sources import TrainingData
from core.means import compute_means
from core.pipelines.experiments import formation, sparse_vs_dense
from core.presets import PRESETS
from core.prune import PruneConfig
from core.tasks import BUILTIN_TASKS
from core.train import CHECKPOINT_DIR, Trainer, snapshot_dirs
from core.workbench import Workbench
from tests.conftest import tiny_config, tiny_train_config

QUICK = PruneConfig(target_loss=0.6, steps=8, fixed_k_steps=0)
TASK = BUILTIN_TASKS["single_double_quote"]


@pytest.fixture(autouse=True)
def small_means(monkeypatch, small_stream):
    """Workbenches take their means from the small test stream, not the whole corpus."""

    def means(self):
        return self.__dict__.setdefault(
            "means", compute_means(self.model, small_stream, n_batches=2, batch_size=4)
        )

    monkeypatch.setattr(Workbench, "means", property(means))


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory, small_stream, tokenizer):
    run = tmp_path_factory.mktemp("run")
    cfg = tiny_train_config(steps=20, ckpt_every=10, keep_checkpoints=True)
    list(Trainer(run, tiny_config(), cfg, small_stream, tokenizer, "cpu").run())
    return run


def run_to_end(generator):
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as done:
            return events, done.value


def test_kept_checkpoints_are_each_checkpoints_weights(kept_run):
    snapshots = snapshot_dirs(kept_run)
    assert [step for step, _ in snapshots] == [10, 20]
    last = Workbench(snapshots[-1][1]).fingerprint
    assert last == Workbench(kept_run / CHECKPOINT_DIR).fingerprint
    assert Workbench(snapshots[0][1]).fingerprint != last


def test_formation_prunes_the_task_at_every_kept_checkpoint(kept_run, tmp_path):
    _, result = run_to_end(formation(kept_run, TASK, tmp_path, QUICK, 16))
    assert [p["step"] for p in result["points"]] == [10, 20]
    for p in result["points"]:
        assert p["n_nodes"] >= 0 and p["n_edges"] >= 0 and math.isfinite(p["loss_circuit"])
        assert (tmp_path / "circuits" / f"step-{p['step']:06d}" / f"{TASK.name}.json").is_file()
    # Run again: every circuit is read back, nothing is pruned.
    events, again = run_to_end(formation(kept_run, TASK, tmp_path, QUICK, 16))
    assert again == result
    assert not [e for e in events if type(e).__name__ == "PruneEvent"]


def test_formation_without_kept_checkpoints_says_how_to_get_them(tmp_path, capsys):
    assert (
        main(["experiment", "formation", str(tmp_path), "--task", TASK.name, "--out", str(tmp_path / "o")])
        == 2
    )
    assert "--keep-checkpoints" in capsys.readouterr().err


@pytest.fixture
def test_preset(monkeypatch):
    model_kw = {k: v for k, v in tiny_config().to_dict().items() if k != "vocab_size"}
    train_kw = {k: v for k, v in tiny_train_config(steps=20).to_dict().items() if k != "preset"}
    monkeypatch.setitem(PRESETS, "test", (model_kw, train_kw))


def test_sparse_vs_dense_trains_a_twin_to_the_sparse_loss_and_compares_edges(
    tmp_path, kept_run, small_stream, tokenizer, test_preset
):
    data = TrainingData(small_stream, tokenizer, "small test stream", 0)
    run = sparse_vs_dense(
        kept_run, [TASK], tmp_path, QUICK, "test", 16, max_steps=20, data=data, check_every=5
    )
    events, result = run_to_end(run)
    twin = Workbench(tmp_path / "dense-run" / CHECKPOINT_DIR)
    assert result["dense_nonzero_fraction"] == 1.0 and result["sparse_nonzero_fraction"] < 0.3
    # It stopped at the first check at or below the sparse loss (or at its budget).
    assert result["dense_val_loss"] <= result["sparse_val_loss"] or result["dense_steps"] == 20
    assert result["dense_steps"] % 5 == 0 and twin.checkpoint.meta["step"] == result["dense_steps"]
    (row,) = result["tasks"]
    assert row["task"] == TASK.name
    if row["compared"] is None:
        assert row["edge_ratio"] == row["dense"]["n_edges"] / max(row["sparse"]["n_edges"], 1)
        assert result["geomean_edge_ratio"] == pytest.approx(row["edge_ratio"])
    else:
        assert result["geomean_edge_ratio"] is None and "misses the target" in row["compared"]
    dense = json.loads((tmp_path / "circuits" / "dense" / f"{TASK.name}.json").read_text())
    assert dense["model_fingerprint"] == twin.fingerprint


def test_the_shape_must_be_the_presets(tmp_path, kept_run):
    with pytest.raises(ValueError, match="not the 'small' preset's shape"):
        next(sparse_vs_dense(kept_run, [TASK], tmp_path, QUICK, "small"))


def test_the_figures_are_written(tmp_path):
    from core.plots import formation_png, sparse_vs_dense_png

    side = {"n_nodes": 3, "n_edges": 4, "loss_full": 0.01, "loss_circuit": 0.1, "reached": True}
    result = {
        "sparse_val_loss": 2.4,
        "dense_val_loss": 2.39,
        "n_compared": 1,
        "geomean_edge_ratio": 10.0,
        "tasks": [
            {"task": "a", "sparse": side, "dense": {**side, "n_edges": 40}, "compared": None},
            {
                "task": "b",
                "sparse": side,
                "dense": side,
                "compared": "the dense circuit misses the target loss",
            },
        ],
    }
    sparse_vs_dense_png(result, tmp_path / "svd.png")
    points = [{"step": s, **side} for s in (100, 200)]
    formation_png({"task": "a", "target_loss": 0.15, "points": points}, tmp_path / "f.png")
    for name in ("svd.png", "f.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
