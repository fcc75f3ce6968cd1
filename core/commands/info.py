"""`sparse-circuits info`: parameters, nonzeros and each matrix's sparsity, as measured in the
weights (not as the training schedule meant it)."""

from __future__ import annotations

from ..formats import iter_load_checkpoint
from ..sparse import count_nonzero
from ..sparsity import SparsitySpec, sparse_parameters
from ..workbench import resolve_model_path
from .progress import run_with_progress


def checkpoint_info(path, tokenizer=None) -> dict:
    loading = iter_load_checkpoint(resolve_model_path(path), tokenizer=tokenizer)
    ckpt = run_with_progress(loading, "reading the weights")
    model = ckpt.model
    settings = ckpt.meta.get("sparsity")
    if settings:
        spec = SparsitySpec(
            settings.get("dense_embeddings", False),
            settings.get("dense_unembed", False),
            settings.get("dense_biases", False),
        )
        sparse_names = set(sparse_parameters(model, spec))
    else:  # an imported model: a matrix is sparse if training left zeros in it
        sparse_names = {
            name for name, p in model.named_parameters() if p.dim() >= 2 and count_nonzero(p) < p.numel()
        }
    matrices, n_params, n_nonzero, sparse_numel, sparse_nonzero = [], 0, 0, 0, 0
    for name, p in model.named_parameters():
        nonzero = count_nonzero(p)
        n_params += p.numel()
        n_nonzero += nonzero
        if name in sparse_names:
            sparse_numel += p.numel()
            sparse_nonzero += nonzero
        matrices.append(
            {
                "name": name,
                "shape": list(p.shape),
                "nonzero": nonzero,
                "nonzero_frac": nonzero / p.numel(),
                "sparse": name in sparse_names,
            }
        )
    info = {
        "config": model.config.to_dict(),
        "n_params": n_params,
        "n_nonzero": n_nonzero,
        "matrices": matrices,
        "source_format": ckpt.meta.get("source_format"),
        "path": str(ckpt.path),
        "tokenizer": _tokenizer_source(ckpt),
        # measured over the sparse matrices; checkpoints written before it was measured in
        # training stored the schedule's value as l0_frac, which is not read
        "l0_frac": sparse_nonzero / sparse_numel if sparse_numel else None,
    }
    if settings:
        info["l0_target"] = settings.get("l0_target")
        # what the schedule keeps at this step (stored as l0_frac before the measure was)
        info["l0_scheduled"] = settings.get("l0_scheduled", settings.get("l0_frac"))
        info["step"] = ckpt.meta.get("step")
    return info


def _tokenizer_source(ckpt) -> str | None:
    """Where the tokenizer was read from; None if the model has none."""
    if ckpt.tokenizer is None:
        return None
    return ckpt.meta.get("tokenizer") or str(ckpt.path / "tokenizer.json")


NO_TOKENIZER_INFO = "none found: token ids only (an OpenAI model reads text through its tinypython folder)"


def format_info(info: dict) -> str:
    c = info["config"]
    lines = [
        f"{info['path']} ({info['source_format']})",
        f"{c['n_layer']} layers, d_model {c['d_model']}, {c['n_head']} heads x d_head "
        f"{c['d_head']}, d_mlp {c['d_mlp']}, vocab {c['vocab_size']}, block {c['block_size']}",
        f"{info['n_params']:,} parameters, {info['n_nonzero']:,} nonzero "
        f"({info['n_nonzero'] / max(1, info['n_params']):.1%})",
        f"tokenizer: {info['tokenizer'] or NO_TOKENIZER_INFO}",
    ]
    target = info.get("l0_scheduled")
    if target is not None:
        lines.append(
            f"trained {info['step']} steps; kept fraction: final target {info['l0_target']:.4g}, "
            f"scheduled now {target:.4g}, measured {info['l0_frac']:.4g} "
            f"({info['l0_frac'] / target:.2f}x the schedule)"
        )
    elif info.get("l0_frac") is not None:
        lines.append(f"the sparse matrices hold {info['l0_frac']:.4g} of their entries nonzero")
    width = max(len(m["name"]) for m in info["matrices"])
    for m in info["matrices"]:
        shape = "x".join(map(str, m["shape"]))
        tag = "sparse" if m["sparse"] else "dense"
        if m["sparse"] and target:
            tag += f" ({m['nonzero_frac'] / target:.2f}x the schedule)"
        lines.append(
            f"  {m['name']:<{width}}  {shape:>11}  {m['nonzero']:>9,} nonzero "
            f"({m['nonzero_frac']:8.3%})  {tag}"
        )
    return "\n".join(lines)
