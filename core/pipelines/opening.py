"""Opening a model for circuit work: the checkpoint, then its mean activations (read from the
cache beside it, or computed over the corpus, which takes seconds to minutes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..workbench import Workbench
from .events import ModelOpened, Progress, Status


def open_workbench(path: str | Path, device: str = "cpu") -> Iterator:
    """Status, then Progress while the means are computed, then ModelOpened. The model has
    run once here, so that its first run for the user (on the GUI thread) is not the slow one."""
    yield Status(f"reading {path}…")
    bench = Workbench(path, device)
    for done, total in bench.iter_means():
        yield Progress("computing mean activations", done, total)
    bench.warm_up()
    yield ModelOpened(bench)
