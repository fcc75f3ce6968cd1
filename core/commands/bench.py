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
    tokens = train_config.batch_size * train_config.seq_len
    return {
        "sparse_step_s": sparse_s,
        "dense_step_s": dense_s,
        "ratio": sparse_s / dense_s,
        "sparse_tokens_per_s": tokens / sparse_s,
        "dense_tokens_per_s": tokens / dense_s,
        "preset": preset_name,
        "steps": steps,
        "device": dev.type,
        "tokens_per_step": tokens,
    }


# `sparse-circuits bench inference`: the paper's shape (Gao et al. 2025), with --small a toy one.
PAPER_SHAPE = dict(
    n_layer=8, d_model=2048, n_head=128, d_head=16, d_mlp=8192, vocab_size=2048, block_size=1024
)
SMALL_SHAPE = dict(n_layer=2, d_model=64, n_head=4, d_head=16, d_mlp=256, vocab_size=2048, block_size=64)
_PEAK_RSS_CHILD = """
import json, sys, time
from core import load_model
from core.memory import keep_freed_memory
keep_freed_memory()  # as the programs do
t0 = time.perf_counter()
model = load_model(sys.argv[1], sparse=True)
load_s = time.perf_counter() - t0
peak_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"load_s": load_s, "peak_mb": peak_kb / 1024}))
"""


def write_openai_model(folder, shape: dict, density: float = 1 / 128, seed: int = 0) -> None:
    """A random model in OpenAI's format (beeg_config.json + final_model.pt): RMSNorm, sinks,
    AbsTopK 1/4, untied unembedding, each matrix `density` nonzero, embeddings dense."""
    import json
    from pathlib import Path

    from ..config import GPTConfig
    from ..model import GPT
    from ..sparse import sparse_keys

    beeg = dict(shape, afrac=0.25, rms_norm=True, bias=False, tied_unembed=False, sink=True)
    config = GPTConfig(**beeg, enable_bigram_table=False)
    with torch.device("meta"):
        meta = GPT(config)
    matrices = {f"{key}.weight" for key in sparse_keys(meta)}
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, t in meta.state_dict().items():
        if name in matrices:
            w = torch.zeros(t.numel())
            picks = torch.randperm(t.numel(), generator=gen)[: max(1, int(t.numel() * density))]
            w[picks] = torch.randn(len(picks), generator=gen) * 0.05
            state[name] = w.view(t.shape)
        elif (
            name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "transformer.ln_f.weight"
        ):
            state[name] = torch.ones(t.shape)
        else:
            state[name] = torch.randn(t.shape, generator=gen) * 0.02
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "beeg_config.json").write_text(json.dumps(beeg))
    torch.save(state, folder / "final_model.pt")


def model_bytes(model) -> int:
    """Bytes of the model's tensors (CSR: values and indices), each storage once."""
    from ..sparse import is_sparse

    seen, total = set(), 0
    for t in [*model.parameters(), *model.buffers()]:
        parts = [t.values(), t.crow_indices(), t.col_indices()] if is_sparse(t) else [t]
        for p in parts:
            if p.data_ptr() not in seen:
                seen.add(p.data_ptr())
                total += p.numel() * p.element_size()
    return total


def _sparse_load_in_child(folder) -> dict:
    """Time and peak memory of a sparse load, in a fresh process (so the peak is the load's)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_CHILD, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


class _TokenIds:
    """A stand-in tokenizer for the bench's random model (it has none): a token is its id."""

    def token_text(self, token_id: int) -> str:
        return str(token_id)

    def token_id(self, text: str) -> int | None:
        return None


def bench_interventions(model) -> list:
    """What a user might have applied: a neuron and a weight edge of the middle layer ablated."""
    from ..interventions import Intervention
    from ..sparse import dense_rows

    layer = model.config.n_layer // 2
    c_fc = dense_rows(model.transformer.h[layer].mlp.c_fc.weight, torch.arange(64))
    row, col = (int(i) for i in c_fc.nonzero()[0])
    return [
        Intervention("node", f"{layer}.mlp.post_act.{row + 1}", "zero"),
        Intervention("edge", f"{layer}.mlp.act_in.{col}->{layer}.mlp.post_act.{row}", "zero"),
    ]


# The prompt the app's outputs are timed on: the built-in tasks' prompts are 4 to 71 tokens of
# tinypython, 12 at the median; 32 is over every task's median but final_kwarg's (49).
ABLATION_TOKENS = 32


def ablation_ms(model, ids: torch.Tensor, repeats: int) -> tuple[float, int]:
    """(median ms, torch threads) from applying interventions to the outputs the app shows for
    them (core.outputs.predict: the next-token distribution and every node's activation) for
    a task-sized prompt, on the threads the app gives torch: one core fewer than the machine
    has (app/window.py)."""
    import os

    from ..outputs import predict

    threads = torch.get_num_threads()
    app_threads = max(1, min(threads, (os.cpu_count() or 1) - 1))
    interventions, tokens = bench_interventions(model), ids[0, :ABLATION_TOKENS].tolist()
    times = []
    torch.set_num_threads(app_threads)
    try:
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            predict(model, _TokenIds(), tokens, interventions)
            if i:
                times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return statistics.median(times) * 1000, app_threads


@torch.no_grad()
def bench_inference(small: bool = False, repeats: int = 5, tokens: int = 64) -> dict:
    """A forward pass of `tokens` tokens, sparse (CSR) vs dense, on CPU, timed in alternation."""
    import sys

    from ..formats import load_model

    shape = SMALL_SHAPE if small else PAPER_SHAPE
    with tempfile.TemporaryDirectory() as tmp:
        write_openai_model(tmp, shape)
        child = _sparse_load_in_child(tmp) if sys.platform == "linux" else {}
        models = {"sparse": load_model(tmp, sparse=True), "dense": load_model(tmp, sparse=False)}
    ids = torch.randint(0, shape["vocab_size"], (1, tokens), generator=torch.Generator().manual_seed(1))
    times = {kind: [] for kind in models}
    logits = {}
    for i in range(repeats + 1):
        for kind, model in models.items():
            t0 = time.perf_counter()
            logits[kind] = model(ids)
            if i:  # the first pass of each warms up
                times[kind].append(time.perf_counter() - t0)
    sparse_s, dense_s = statistics.median(times["sparse"]), statistics.median(times["dense"])
    ablation, ablation_threads = ablation_ms(models["sparse"], ids, repeats)
    return {
        "sparse_ms": sparse_s * 1000,
        "dense_ms": dense_s * 1000,
        "ratio": dense_s / sparse_s,
        "max_abs_err": float((logits["sparse"] - logits["dense"]).abs().max()),
        "sparse_model_mb": model_bytes(models["sparse"]) / 2**20,
        "dense_model_mb": model_bytes(models["dense"]) / 2**20,
        "load_s": child.get("load_s"),
        "load_peak_rss_mb": child.get("peak_mb"),
        "ablation_ms": ablation,
        "ablation_threads": ablation_threads,
        "ablation_tokens": min(tokens, ABLATION_TOKENS),
        "shape": "small" if small else "paper",
        "tokens": tokens,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
    }
