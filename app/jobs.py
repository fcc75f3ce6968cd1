"""The generators the worker threads run: training, pruning, the inspector's corpus sample and
the ablation-effect overlay, reporting plain data.

A job that runs a model gets its own copy, made on the GUI thread: hooks are installed on a
model for the duration of a forward pass, and the GUI's own forward passes must not see them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.checks import run_checks
from core.data.sources import load_training_data
from core.device import describe, pick_device
from core.interventions import Intervention
from core.node_stats import sample_corpus
from core.outputs import Prediction, predict
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


def pruning_job(bench, model, task, config: PruneConfig, n_examples: int, with_checks: bool):
    """Prunes `model`, a private copy of the bench's, so the GUI can keep using the original."""
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


def corpus_sample_job(bench, model):
    """Activations of every node over a slice of the corpus, for the node inspector."""
    stream = bench.stream(quick=True)
    yield ("status", "running the model over the corpus…")
    yield ("corpus_sample", sample_corpus(model, stream))


def effect_metric(prediction: Prediction) -> tuple[str, Callable[[Prediction], float]]:
    """What an ablation effect measures: the task's logit difference when the prompt has its
    two candidates, else the log-probability of the token the model predicts now."""
    if prediction.logit_diff is not None:
        return "logit difference", lambda p: p.logit_diff
    token, text, _ = prediction.top[0]
    return f"log p({text!r})", lambda p: float(np.log(p.probs[token]))


def ablation_effects_job(model, tokenizer, ids, interventions, means, candidates, position,
                         nodes, batch_s: float = 0.05):
    """Each node's effect on the metric when it alone is mean-ablated on top of the active
    interventions: the metric then minus the metric now. Yields ("effects", {node: effect})
    batches about every `batch_s` seconds, so the overlay fills in as it goes."""
    interventions = list(interventions)
    now = predict(model, tokenizer, ids, interventions, means, candidates, position)
    _, metric = effect_metric(now)
    start, batch = metric(now), {}
    last = time.monotonic()
    for i, node in enumerate(nodes):
        ablated = [iv for iv in interventions if iv.target != node] + [Intervention("node", node)]
        after = predict(model, tokenizer, ids, ablated, means, candidates, position)
        batch[node] = metric(after) - start
        if time.monotonic() - last >= batch_s or i == len(nodes) - 1:
            yield ("effects", batch)
            batch, last = {}, time.monotonic()
