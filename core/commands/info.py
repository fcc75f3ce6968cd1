"""`sparse-circuits info`: parameters, nonzeros and each matrix's sparsity."""

from __future__ import annotations

from ..formats import load_checkpoint
from ..sparsity import SparsitySpec, sparse_parameters
from ..workbench import resolve_model_path


def checkpoint_info(path, tokenizer=None) -> dict:
    ckpt = load_checkpoint(resolve_model_path(path), tokenizer=tokenizer)
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
            name for name, p in model.named_parameters() if p.dim() >= 2 and int((p != 0).sum()) < p.numel()
        }
    matrices, n_params, n_nonzero = [], 0, 0
    for name, p in model.named_parameters():
        nonzero = int((p != 0).sum())
        n_params += p.numel()
        n_nonzero += nonzero
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
    }
    if settings:
        info["l0_target"] = settings.get("l0_target")
        info["l0_frac"] = settings.get("l0_frac")
        info["step"] = ckpt.meta.get("step")
    return info


def _tokenizer_source(ckpt) -> str | None:
    """Where the tokenizer was read from; None if the model has none."""
    if ckpt.tokenizer is None:
        return None
    return ckpt.meta.get("tokenizer") or str(ckpt.path / "tokenizer.json")


def format_info(info: dict) -> str:
    c = info["config"]
    lines = [
        f"{info['path']} ({info['source_format']})",
        f"{c['n_layer']} layers, d_model {c['d_model']}, {c['n_head']} heads x d_head "
        f"{c['d_head']}, d_mlp {c['d_mlp']}, vocab {c['vocab_size']}, block {c['block_size']}",
        f"{info['n_params']:,} parameters, {info['n_nonzero']:,} nonzero "
        f"({info['n_nonzero'] / max(1, info['n_params']):.1%})",
        f"tokenizer: {info['tokenizer'] or 'none found (an OpenAI model needs its tinypython folder)'}",
    ]
    if info.get("l0_target") is not None:
        lines.append(
            f"trained {info['step']} steps; target kept fraction {info['l0_target']:.4f}, "
            f"current {info['l0_frac']:.4f}"
        )
    width = max(len(m["name"]) for m in info["matrices"])
    for m in info["matrices"]:
        shape = "x".join(map(str, m["shape"]))
        tag = "sparse" if m["sparse"] else "dense"
        lines.append(
            f"  {m['name']:<{width}}  {shape:>11}  {m['nonzero']:>9,} nonzero "
            f"({m['nonzero_frac']:6.1%})  {tag}"
        )
    return "\n".join(lines)
