"""`sparse-circuits bench train`: one training step of the sparse model vs its dense twin.

Both models are built from the same seed on the same device and timed in alternation, step for
step, after the anneal has reached its target (the regime most of a run is spent in). The
only difference is the top-k projection after each optimizer step.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import numpy as np
import torch

from ..data.stream import TokenStream
from ..device import pick_device
from ..presets import preset
from ..train import Trainer

BENCH_VOCAB = 2048


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_train(
    preset_name: str = "small", steps: int = 15, device: str | None = None, warmup: int = 3
) -> dict:
    dev = pick_device(device)
    model_config, train_config = preset(preset_name, BENCH_VOCAB)
    train_config.steps = 1000
    rng = np.random.default_rng(0)
    n_tokens = max(200_000, 4 * train_config.batch_size * (train_config.seq_len + 1))
    stream = TokenStream(rng.integers(0, BENCH_VOCAB, n_tokens).astype(np.int32))
    times = {"sparse": [], "dense": []}
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {}
        for kind in times:
            trainers[kind] = Trainer(f"{tmp}/{kind}", model_config, train_config, stream, None, str(dev))
            trainers[kind].project_weights = kind == "sparse"
        first = train_config.steps - warmup - steps - 1  # past the anneal: l0 at its target
        for i in range(warmup + steps):
            for kind, trainer in trainers.items():
                _sync(dev)
                t0 = time.perf_counter()
                trainer.step(first + i)
                _sync(dev)
                if i >= warmup:
                    times[kind].append(time.perf_counter() - t0)
    sparse_s = statistics.median(times["sparse"])
    dense_s = statistics.median(times["dense"])
    return {
        "sparse_step_s": sparse_s,
        "dense_step_s": dense_s,
        "ratio": sparse_s / dense_s,
        "preset": preset_name,
        "steps": steps,
        "device": dev.type,
        "tokens_per_step": train_config.batch_size * train_config.seq_len,
    }
