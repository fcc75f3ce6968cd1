"""Opening a model for circuit work: the checkpoint, then its mean activations (read from the
cache beside it, or computed over the corpus, which takes seconds to minutes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..fileio import FileFormatError
from ..openai_viz import circuit_from_viz, find_model_dir
from ..provenance import check_circuit_fits
from ..viz_browse import sweep_loss_vs_k
from ..workbench import Workbench
from .events import CircuitOpened, ModelOpened, Progress, Status


def open_workbench(path: str | Path, device: str = "cpu", tokenizer=None) -> Iterator:
    """Status, then Progress while the means are computed, then ModelOpened. The model has
    run once here, so that its first run for the user (on the GUI thread) is not the slow one.
    `tokenizer`: an OpenAI model's tinypython folder, when it is not beside or above it."""
    bench = yield from _opened(path, device, tokenizer)
    yield ModelOpened(bench)


def _opened(path, device, tokenizer=None) -> Iterator:
    yield Status(f"reading {path}…")
    loading = Workbench.iter_open(path, device, tokenizer)
    while True:
        try:
            done, total = next(loading)
        except StopIteration as opened:
            bench = opened.value
            break
        yield Progress("reading the weights", done, total)
    for done, total in bench.iter_means():
        yield Progress("computing mean activations", done, total)
    bench.warm_up()
    return bench


def open_viz_circuit(
    path: str | Path, bench: Workbench | None, device: str = "cpu", tokenizers: dict | None = None
) -> Iterator:
    """One of OpenAI's viz_data.pt circuits, for the model it was pruned from: the one in
    `models/<model>/` beside its `viz/` folder (opened here, unless it is `bench`, the model
    open now), else `bench`. Its edges are that model's weights between its nodes; its sweep's
    loss against k comes with it. Ends with CircuitOpened; refused (ValueError) if the circuit
    does not fit the model. `tokenizers`: tokenizer folders by resolved model folder, for
    models whose tinypython folder is not beside or above them."""
    path = Path(path)
    model_dir = find_model_dir(path)
    opened = None
    if model_dir is not None and (bench is None or Path(bench.checkpoint.path).resolve() != model_dir):
        opened = bench = yield from _opened(model_dir, device, (tokenizers or {}).get(str(model_dir)))
    if bench is None:
        raise FileFormatError(
            f"{path}: its model is not in models/<model>/ beside its viz/ folder; open the model first"
        )
    yield Status(f"reading {path.name} and its model's edges…")
    circuit = circuit_from_viz(path, checkpoint=bench.checkpoint, model_fingerprint=bench.fingerprint)
    check_circuit_fits(circuit, bench.model, bench.fingerprint, bench.ref, str(path))
    yield Status("reading the sweep's loss at each k…")
    curve = sweep_loss_vs_k(path.parent.parent)
    if curve:
        circuit.extra["openai_viz"]["loss_vs_k"] = [list(point) for point in curve]
    yield CircuitOpened(circuit, str(path), opened)
