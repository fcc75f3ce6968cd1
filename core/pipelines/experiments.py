"""The paper's two experiments as pipelines, for `sparse-circuits experiment`:

- `formation`: one task pruned at every kept checkpoint of a training run (circuit size and
  loss against step: how a circuit forms while the weights go sparse).
- `sparse_vs_dense`: the paper's headline (its Fig. 2). A dense twin of the sparse model (same
  shape, data, tokenizer and activation sparsity; no weight sparsity) is trained until its
  validation loss reaches the sparse model's, both are pruned on every task with the same
  settings, and their circuits' weight edges are compared.

Each is a generator of the usual events (Status, TrainEvent, PruneEvent) that returns its
result as plain data; circuits are written under the output folder as they are found, and a
circuit already there for the same model (by fingerprint) and settings is read, not pruned again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from ..circuit import Circuit
from ..data.sources import TrainingData, load_training_data
from ..fileio import FileFormatError
from ..presets import preset
from ..prune import PruneConfig
from ..tasks import Task
from ..train import CHECKPOINT_DIR, read_metrics, snapshot_dirs, validation_loss
from ..workbench import Workbench
from .events import CircuitReady, Status, TrainEvent
from .pruning import prune_and_check
from .training import TrainingSpec, run_state, training


def circuit_row(circuit: Circuit) -> dict:
    return {
        "n_nodes": circuit.n_nodes,
        "n_edges": circuit.n_edges,
        "n_residual_edges": circuit.n_residual_edges,
        "loss_full": circuit.loss_full,
        "loss_circuit": circuit.loss_circuit,
        "reached": circuit.loss_circuit <= circuit.target_loss,
    }


def pruned(bench: Workbench, task: Task, config: PruneConfig, n_examples: int, cache: list[Path]):
    """The task's circuit in `bench`'s model: read from the first of `cache`'s folders holding one
    found in this model with these settings, else pruned (events yielded) and written to the
    first folder."""
    for folder in cache:
        path = folder / f"{task.name}.json"
        if path.is_file():
            circuit = Circuit.load(path)
            same = (circuit.target_loss, circuit.ablation, circuit.seed) == (
                config.target_loss,
                config.ablation,
                config.seed,
            )
            if same and circuit.extra.get("model_fingerprint") == bench.fingerprint:
                yield Status(f"{task.name}: read from {path}")
                return circuit
    circuit = None
    with closing(prune_and_check(bench, task, config, n_examples)) as events:
        for event in events:
            if isinstance(event, CircuitReady):
                circuit = event.circuit
            else:
                yield event
    cache[0].mkdir(parents=True, exist_ok=True)
    circuit.save(cache[0] / f"{task.name}.json")
    return circuit


def formation(run_dir, task: Task, out: Path, config: PruneConfig, n_examples: int = 256) -> Iterator:
    """Prune `task` at each kept checkpoint of the run; returns {"points": [{step, ...}], ...}."""
    snapshots = snapshot_dirs(run_dir)
    if not snapshots:
        raise FileFormatError(
            f"{run_dir}: no kept checkpoints (snapshots/step-*); train with --keep-checkpoints"
        )
    points = []
    for i, (step, folder) in enumerate(snapshots):
        yield Status(f"step {step} ({i + 1} of {len(snapshots)}): pruning {task.name}")
        bench = Workbench(folder)
        circuit = yield from pruned(bench, task, config, n_examples, [out / "circuits" / f"step-{step:06d}"])
        points.append({"step": step, **circuit_row(circuit)})
    return {
        "experiment": "formation",
        "run": str(Path(run_dir).resolve()),
        "task": task.name,
        "target_loss": config.target_loss,
        "points": points,
    }


def sparse_vs_dense(
    sparse_path,
    tasks: list[Task],
    out: Path,
    config: PruneConfig,
    preset_name: str = "small",
    n_examples: int = 256,
    max_steps: int | None = None,
    reuse: list[Path] = (),
    device: str | None = None,
    data: TrainingData | None = None,
    check_every: int = 100,
) -> Iterator:
    """Train the dense twin to the sparse model's validation loss (compared every `check_every`
    steps), prune both on every task; returns the figures (edges per task, their ratios and the
    geometric mean). `data`: the corpus in the sparse model's tokenization, if already read."""
    sparse = Workbench(sparse_path)
    model_config, train_config = preset(preset_name, sparse.tokenizer.vocab_size)
    if model_config.to_dict() != sparse.model.config.to_dict():
        raise ValueError(
            f"{sparse_path}: the model is not the {preset_name!r} preset's shape; name its preset (--preset)"
        )
    if data is None:
        yield Status("reading the corpus…")
        data = load_training_data(None, tokenizer=sparse.tokenizer)
    sparse_val = validation_loss(sparse.model, data.stream, train_config, sparse.device)
    yield Status(f"sparse model: validation loss {sparse_val:.3f}; training its dense twin to it")
    dense_run = out / "dense-run"
    _, dense_steps = yield from _dense_twin(
        dense_run, preset_name, data, sparse_val, max_steps, device, check_every
    )
    dense = Workbench(dense_run / CHECKPOINT_DIR)
    dense_val = validation_loss(dense.model, data.stream, train_config, dense.device)

    rows = []
    for task in tasks:
        yield Status(f"{task.name}: pruning the sparse model")
        s = yield from pruned(sparse, task, config, n_examples, [out / "circuits" / "sparse", *reuse])
        yield Status(f"{task.name}: pruning the dense model")
        d = yield from pruned(dense, task, config, n_examples, [out / "circuits" / "dense"])
        row = {"task": task.name, "sparse": circuit_row(s), "dense": circuit_row(d)}
        row["compared"] = _comparable(row)
        if row["compared"] is None:
            row["edge_ratio"] = d.n_edges / max(s.n_edges, 1)
        rows.append(row)
    ratios = [r["edge_ratio"] for r in rows if r["compared"] is None]
    return {
        "experiment": "sparse-vs-dense",
        "sparse_model": sparse.ref,
        "dense_model": str(dense_run / CHECKPOINT_DIR),
        "preset": preset_name,
        "sparse_val_loss": sparse_val,
        "dense_val_loss": dense_val,
        "dense_steps": dense_steps,
        "sparse_nonzero_fraction": _nonzero_fraction(sparse),
        "dense_nonzero_fraction": _nonzero_fraction(dense),
        "target_loss": config.target_loss,
        "tasks": rows,
        "n_compared": len(ratios),
        "geomean_edge_ratio": math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else None,
    }


def _comparable(row: dict) -> str | None:
    """Why a task's two circuits cannot be compared (None: they can): each must reach the target."""
    missed = [side for side in ("sparse", "dense") if not row[side]["reached"]]
    return f"the {' and '.join(missed)} circuit misses the target loss" if missed else None


def _dense_twin(run_dir: Path, preset_name, data, target: float, max_steps, device, check_every):
    """Train the dense twin until a validation loss of `target` at most, checked every
    `check_every` steps (an interrupted twin is resumed, one that got there is reused);
    returns (its last validation loss, steps)."""
    state = run_state(run_dir)
    if state is not None:
        last = next((m["val_loss"] for m in reversed(read_metrics(run_dir)) if "val_loss" in m), None)
        if (last is not None and last <= target) or state["step"] >= state["train_config"]["steps"]:
            yield Status(f"dense twin: reusing {run_dir} (step {state['step']})")
            return last, state["step"]
        spec = TrainingSpec(run_dir, device=device, data=data, resume=True)
    else:
        settings = {"l0_target": 1.0, "ckpt_every": check_every, "log_every": check_every}
        spec = TrainingSpec(run_dir, preset_name, max_steps, device=device, data=data, settings=settings)
    val, step = None, 0
    with closing(training(spec)) as events:
        for event in events:
            yield event
            if isinstance(event, TrainEvent):
                step = event.step
                if event.kind == "checkpoint":
                    val = event.val_loss
                    if val <= target:
                        break  # this step's checkpoint is written: closing saves nothing more
    return val, step


def _nonzero_fraction(bench: Workbench) -> float | None:
    """The sparse matrices' nonzero fraction, as measured when the checkpoint was saved."""
    return bench.checkpoint.meta.get("sparsity", {}).get("l0_frac")
