"""A training run, set up once for every caller (`sparse-circuits train`, the app's training
panel, the default model's build, the self-test): a preset on a corpus, or a run to resume,
then the trainer's steps as events. Closing the generator between steps saves a checkpoint to
resume from."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.sources import TrainingData, load_training_data
from ..device import describe, pick_device
from ..distributed import Dist
from ..fileio import FileFormatError, check_writable
from ..formats import load_ours, read_json
from ..presets import PRESETS, preset
from ..train import CHECKPOINT_DIR, Trainer
from .events import Finished, Status, TrainingStarted, WeightsSnapshot


@dataclass
class TrainingSpec:
    out: Path  # the run folder: metrics.jsonl and checkpoint/
    preset: str = "tiny"
    steps: int | None = None  # None: the preset's (a resumed run keeps its own)
    seed: int | None = None  # None: the preset's
    device: str | None = None  # None: the best available
    corpus: str | None = None  # a folder of .py files; None: the embedded corpus
    resume: bool = False  # continue the run in `out` exactly
    data: TrainingData | None = None  # data already loaded (instead of reading `corpus`)
    dist: Dist | None = None  # one of several torchrun processes training one model
    settings: dict | None = None  # TrainConfig fields for a new run: keep_checkpoints, l0_target...


def run_state(run_dir) -> dict | None:
    """The saved `train_state.json` of a run folder (`step`, `train_config`), or None."""
    path = Path(run_dir) / CHECKPOINT_DIR / "train_state.json"
    if not path.is_file():
        return None
    state = read_json(path)
    if not isinstance(state, dict) or not isinstance(state.get("train_config"), dict):
        raise FileFormatError(f"{path}: field 'train_config' must be an object")
    for field, value in (
        ("step", state.get("step")),
        ("train_config.steps", state["train_config"].get("steps")),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise FileFormatError(f"{path}: field {field!r} must be a non-negative integer, got {value!r}")
    return state


def weight_pattern(model) -> np.ndarray:
    """|weights| of the first MLP's input matrix, a picture of the weights going sparse."""
    w = model.transformer.h[0].mlp.c_fc.weight.detach()
    return w.abs().float().cpu().numpy().copy()


def _saved_data(run_dir: Path, corpus: str | None) -> TrainingData:
    """A run's data for resuming it: its corpus (unless another is given), its tokenizer."""
    saved = load_ours(run_dir / CHECKPOINT_DIR)
    return load_training_data(corpus or saved.meta.get("corpus"), tokenizer=saved.tokenizer)


def training(spec: TrainingSpec, snapshot_every: int | None = None) -> Iterator:
    """Status, TrainingStarted, then a TrainEvent per step (with a WeightsSnapshot first and
    every `snapshot_every` steps, if asked), and Finished with the checkpoint folder."""
    run_dir = Path(spec.out)
    check_writable(run_dir, "folder")  # before the corpus is read and the model built
    device = pick_device(spec.device)
    if spec.dist is not None:
        device = spec.dist.device(device)
    if spec.resume:
        state = run_state(run_dir)
        if state is None:
            raise FileExistsError(f"{run_dir}: nothing to resume (no checkpoint there)")
        saved_steps = state["train_config"]["steps"]
        if spec.steps is not None and spec.steps != saved_steps:
            raise ValueError(
                f"--steps {spec.steps} differs from the run's {saved_steps}; a resumed run keeps its schedule"
            )
        if state["step"] >= saved_steps:
            raise ValueError(f"{run_dir}: the run is finished ({saved_steps} steps); nothing to resume")
    else:
        if spec.steps is not None and spec.steps < 1:
            raise ValueError(f"--steps must be positive, got {spec.steps}")
        if spec.preset not in PRESETS:
            raise ValueError(f"unknown preset {spec.preset!r} (choose from {', '.join(PRESETS)})")
    yield Status("reading the corpus…")
    if spec.resume:
        data = spec.data or _saved_data(run_dir, spec.corpus)
        trainer = Trainer(
            run_dir, None, None, data.stream, data.tokenizer, str(device), resume=True, dist=spec.dist
        )
    else:
        data = spec.data or load_training_data(spec.corpus)
        model_config, train_config = preset(spec.preset, data.tokenizer.vocab_size)
        if spec.steps is not None:
            train_config.steps = spec.steps
        if spec.seed is not None:
            train_config.seed = spec.seed
        if spec.settings:
            train_config = dataclasses.replace(train_config, **spec.settings)
        corpus = str(Path(spec.corpus).resolve()) if spec.corpus else None
        trainer = Trainer(
            run_dir,
            model_config,
            train_config,
            data.stream,
            data.tokenizer,
            str(device),
            corpus=corpus,
            dist=spec.dist,
        )
    total = trainer.cfg.steps
    where = describe(device)
    if spec.dist is not None:
        where += f" x {spec.dist.world} processes"
    yield TrainingStarted(
        trainer.cfg.preset,
        trainer.model.num_params(),
        where,
        data.description,
        trainer.start_step,
        total,
    )
    if snapshot_every:
        yield WeightsSnapshot(weight_pattern(trainer.model))
    step = trainer.start_step
    try:
        with closing(trainer.run()) as steps:  # closed early: the trainer saves a checkpoint
            for event in steps:
                step = event.step
                yield event
                if (
                    snapshot_every
                    and event.kind != "done"
                    and (event.step % snapshot_every == 0 or event.step == total)
                ):
                    yield WeightsSnapshot(weight_pattern(trainer.model))
    except torch.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        saved = run_state(run_dir)
        cfg = trainer.cfg
        raise OutOfDeviceMemory(
            f"{describe(device)} ran out of memory at step {step + 1} ({trainer.model.num_params():,} "
            f"parameters, batches of {cfg.batch_size} x {cfg.seq_len} tokens): train on the CPU "
            f"(--device cpu, or the CPU in the training panel) or with a smaller preset"
            + (f"; --resume continues from the checkpoint at step {saved['step']}" if saved else "")
        ) from None
    yield Finished(str(run_dir / CHECKPOINT_DIR))


class OutOfDeviceMemory(ValueError):
    """The device ran out of memory while training; the message says what to do instead."""
