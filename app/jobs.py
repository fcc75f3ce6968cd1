"""The generators the worker threads run: training and pruning, reporting plain data."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from core.checks import run_checks
from core.data.sources import load_training_data
from core.device import describe, pick_device
from core.presets import preset
from core.prune import PruneConfig, Pruner
from core.taskeval import task_batch
from core.train import CHECKPOINT_DIR, Trainer


def weight_pattern(trainer) -> np.ndarray:
    """|weights| of the first MLP's input matrix, a picture of the weights going sparse."""
    w = trainer.model.transformer.h[0].mlp.c_fc.weight.detach()
    return w.abs().float().cpu().numpy().copy()


def training_job(preset_name: str, steps: int | None, device: str | None, corpus: str | None,
                 out: Path, snapshot_every: int = 100):
    yield ("status", "reading the corpus…")
    data = load_training_data(corpus)
    model_config, train_config = preset(preset_name, data.tokenizer.vocab_size)
    if steps:
        train_config.steps = steps
    dev = pick_device(device)
    trainer = Trainer(out, model_config, train_config, data.stream, data.tokenizer, str(dev),
                      corpus=corpus)
    yield ("status", f"{trainer.model.num_params():,} parameters on {describe(dev)}; "
                     f"{data.description}")
    yield ("weights", weight_pattern(trainer))
    for event in trainer.run():
        yield event
        if event.step % snapshot_every == 0 or event.step == train_config.steps:
            yield ("weights", weight_pattern(trainer))
    yield ("finished", str(out / CHECKPOINT_DIR))


def pruning_job(bench, task, config: PruneConfig, n_examples: int, with_checks: bool):
    """Prunes a private copy of the model, so the GUI can keep using the original meanwhile."""
    model = copy.deepcopy(bench.model)
    block = model.config.block_size
    batch = task_batch(task, bench.tokenizer, block, n_examples, "train", config.seed)
    circuit = None
    for event in Pruner(model, batch, bench.means, config, task.name).run():
        yield event
        circuit = event.circuit or circuit
    circuit.model = bench.name
    if with_checks:
        yield ("status", "running the faithfulness checks…")
        heldout = task_batch(task, bench.tokenizer, block, n_examples, "heldout", config.seed)
        circuit.checks = run_checks(model, circuit, batch, heldout, bench.means, bench.stream, config)
    yield ("circuit", circuit)
