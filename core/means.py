"""Mean activations over the pretraining distribution: what mean ablation replaces a node by.

Computed once per model (every hook point, and every linear layer's input for edge ablation)
and cached beside the checkpoint as `means.safetensors`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .data.stream import TokenStream
from .generators import drain

MEANS_FILE = "means.safetensors"


def compute_means(model, stream: TokenStream, **kwargs) -> dict[str, torch.Tensor]:
    """{hook name or `<linear>:in`: mean over positions and sequences, [width]}."""
    return drain(iter_means(model, stream, **kwargs))


def iter_means(
    model,
    stream: TokenStream,
    n_batches: int = 8,
    batch_size: int = 16,
    seq_len: int | None = None,
    seed: int = 1234,
) -> Generator[tuple[int, int], None, dict[str, torch.Tensor]]:
    """`compute_means` one batch at a time: yields (batches done, of all); returns the means."""
    seq_len = min(seq_len or model.config.block_size, model.config.block_size)
    device = next(model.parameters()).device
    sums: dict[str, torch.Tensor] = {}
    count = 0

    def add(name, x):
        flat = x.detach().float().reshape(-1, x.shape[-1]).sum(0)
        sums[name] = sums[name] + flat if name in sums else flat

    # Every hook point's activation, and every linear layer's input (`0.mlp.c_fc:in`, what an
    # edge's mean ablation replaces the input channel by).
    hooks = [(name, lambda x, n: add(n, x)) for name in model.hook_points]
    hooks += [(key, lambda out, n, inp: add(f"{n}:in", inp)) for key in model.topology.linears()]
    for i in range(n_batches):
        x, _ = stream.batch(i, batch_size, seq_len, seed, split="train")
        with torch.no_grad(), model.hooks(hooks):
            model(x.to(device))
        count += x.numel()
        yield i + 1, n_batches
    return {name: (s / count).cpu() for name, s in sums.items()}


def load_or_compute_means(
    model, folder: Path | None, stream_factory, source: str | None = None
) -> dict[str, torch.Tensor]:
    """Means cached in `folder` if present and matching the model (and, when `source` is
    given, taken over that corpus), else computed (and cached there when the folder is
    writable, recording `source`). `stream_factory()` gives the corpus token stream."""
    return drain(iter_load_or_compute_means(model, folder, stream_factory, source))


def iter_load_or_compute_means(
    model, folder: Path | None, stream_factory: Callable[[], TokenStream], source: str | None = None
) -> Generator[tuple[int, int], None, dict[str, torch.Tensor]]:
    """`load_or_compute_means`, yielding (batches done, of all) while it computes."""
    path = Path(folder) / MEANS_FILE if folder else None
    if path is not None and path.is_file():
        try:
            with safe_open(str(path), "pt") as f:
                cached_source = (f.metadata() or {}).get("source")
            means = load_file(str(path))
            if set(model.hook_points) <= set(means) and source in (None, cached_source):
                return means
        except (SafetensorError, OSError):
            pass
    means = yield from iter_means(model, stream_factory())
    if path is not None:
        try:
            tmp = path.with_name(f".{path.name}.tmp")
            metadata = {"source": source} if source else None
            save_file({k: v.contiguous() for k, v in means.items()}, str(tmp), metadata=metadata)
            tmp.replace(path)
        except OSError:
            pass  # a read-only checkpoint: use the means without caching them
    return means
