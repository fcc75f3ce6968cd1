"""Browsing OpenAI's published circuits: the `viz/<model>/<task>/<sweep>/<k>/viz_data.pt`
tree (core/openai_viz.py reads one file), and a sweep's loss against k.

k is a node budget (a folder named by a number) or `k_optim` (the budget the pruning chose).
A sweep's loss-versus-k curve is what the reference viewer plots (viz.py, faithfulness at k):
for each numbered k, the last loss of that pruning run (`all_loss[-1]`), here halved to our
scale like every stored task loss (openai_viz.LOSS_SCALE)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .fileio import FileFormatError
from .openai_viz import LOSS_SCALE, read_viz, viz_layout

VIZ_FILE = "viz_data.pt"
MAX_FILES = 20_000  # a tree bigger than every circuit OpenAI published, many times over


@dataclass(frozen=True)
class VizEntry:
    model: str
    task: str
    sweep: str
    k: str  # a number, or "k_optim"
    path: Path

    @property
    def sweep_dir(self) -> Path:
        return self.path.parent.parent


def k_order(k: str) -> tuple[int, int]:
    """k_optim first (the viewer's default), then the budgets from small to large."""
    return (1, int(k)) if k.isdigit() else (0, 0)


def list_viz(root) -> list[VizEntry]:
    """Every viz_data.pt under `root` laid out as `viz/<model>/<task>/<sweep>/<k>/`, sorted by
    model, task, sweep and k. `root` may be the `viz/` folder, a folder holding it, or any
    folder inside it."""
    root = Path(root)
    if not root.is_dir():
        raise FileFormatError(f"{root}: not a folder")
    entries = []
    for n, path in enumerate(root.rglob(VIZ_FILE)):
        if n >= MAX_FILES:
            raise FileFormatError(f"{root}: over {MAX_FILES:,} {VIZ_FILE} files; choose a smaller folder")
        layout = viz_layout(path)
        if layout is not None and (layout["k"].isdigit() or layout["k"] == "k_optim"):
            entries.append(VizEntry(path=path, **layout))
    return sorted(entries, key=lambda e: (e.model, e.task, e.sweep, k_order(e.k)))


def sweep_loss_vs_k(sweep_dir) -> list[tuple[int, float]]:
    """[(k, loss)] over a sweep's numbered k folders, sorted by k: each run's final pruning loss,
    on our scale. A k whose file is missing, unreadable or has no `all_loss` is left out, as the
    reference viewer leaves it out."""
    curve = []
    for folder in Path(sweep_dir).iterdir():
        if not (folder.name.isdigit() and (folder / VIZ_FILE).is_file()):
            continue
        try:
            loss = final_pruning_loss(read_viz(folder / VIZ_FILE))
        except FileFormatError:
            continue
        if loss is not None:
            curve.append((int(folder.name), loss))
    return sorted(curve)


def final_pruning_loss(data: dict) -> float | None:
    """`all_loss[-1]`'s loss, halved; None when absent or not a finite number."""
    all_loss = data.get("all_loss")
    try:
        loss = float(all_loss[-1][1])
    except (TypeError, IndexError, KeyError, ValueError):
        return None
    return LOSS_SCALE * loss if math.isfinite(loss) else None
