"""The experiments' figures as PNG files, drawn by matplotlib (imported only here, when a figure
is asked for, so that nothing else in core pays for it)."""

from __future__ import annotations

import io
from pathlib import Path

from .fileio import atomic_write_bytes


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ValueError("the figure needs matplotlib (pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    fig.clf()
    atomic_write_bytes(Path(path), buffer.getvalue())


def sparse_vs_dense_png(result: dict, path: Path) -> None:
    """Each task's circuit edges in the dense model against the sparse one's (log-log), the
    diagonal and the geometric-mean ratio marked, as in the paper's Fig. 2."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    rows = [r for r in result["tasks"] if r["compared"] is None]
    skipped = [r["task"] for r in result["tasks"] if r["compared"] is not None]
    xs = [max(r["sparse"]["n_edges"], 1) for r in rows]
    ys = [max(r["dense"]["n_edges"], 1) for r in rows]
    ax.scatter(xs, ys, color="#d62728", zorder=3)
    for r, x, y in zip(rows, xs, ys):
        ax.annotate(r["task"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    lo = min(xs + ys + [1])
    hi = max(xs + ys + [10]) * 2
    ax.plot([lo, hi], [lo, hi], color="0.6", linestyle="--", label="equal size")
    ratio = result["geomean_edge_ratio"]
    if ratio:
        ax.plot([lo, hi], [lo * ratio, hi * ratio], color="#1f77b4", label=f"dense = {ratio:.1f}x sparse")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo / 1.5, hi)
    ax.set_ylim(lo / 1.5, hi * (ratio or 1))
    ax.set_xlabel("circuit edges, weight-sparse model")
    ax.set_ylabel("circuit edges, dense model")
    title = (
        f"Circuits at equal pretraining loss (sparse {result['sparse_val_loss']:.3f}, "
        f"dense {result['dense_val_loss']:.3f})\n"
        f"geometric-mean ratio {ratio:.1f}x over {result['n_compared']} tasks"
        if ratio
        else "Circuits at equal pretraining loss: no task reached the target in both"
    )
    ax.set_title(title, fontsize=9)
    if skipped:
        fig.text(0.01, 0.005, f"not compared (a circuit misses the target): {', '.join(skipped)}", fontsize=6)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, which="major", alpha=0.3)
    _save(fig, path)
    plt.close(fig)


def formation_png(result: dict, path: Path) -> None:
    """Circuit size (weight edges and nodes) and the circuit's task loss against training step."""
    plt = _pyplot()
    fig, (size_ax, loss_ax) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True)
    points = result["points"]
    steps = [p["step"] for p in points]
    size_ax.plot(steps, [p["n_edges"] for p in points], marker="o", label="weight edges")
    size_ax.plot(steps, [p["n_nodes"] for p in points], marker="s", label="nodes")
    size_ax.set_yscale("log")
    size_ax.set_ylabel("circuit size")
    size_ax.legend(fontsize=8)
    size_ax.set_title(f"{result['task']}: the circuit as the model trains", fontsize=9)
    loss_ax.plot(steps, [p["loss_circuit"] for p in points], marker="o", label="circuit")
    loss_ax.plot(steps, [p["loss_full"] for p in points], marker="^", label="full model")
    loss_ax.axhline(result["target_loss"], color="0.6", linestyle="--", label="target")
    loss_ax.set_ylabel("task loss")
    loss_ax.set_xlabel("training step")
    loss_ax.legend(fontsize=8)
    for ax in (size_ax, loss_ax):
        ax.grid(True, alpha=0.3)
    _save(fig, path)
    plt.close(fig)
