"""A finished `experiment formation` read back: one task's circuit at each kept checkpoint of a
training run, with the checkpoint it was found in, to step through (the app's training-run
slider) or compare step by step.

The folder holds result.json (the experiment's figures, naming the run) and
circuits/step-NNNNNN/<task>.json; the run holds snapshots/step-NNNNNN/, the weights of each
step. Every problem is one FileFormatError naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .circuit import Circuit
from .fileio import FileFormatError, read_json
from .schemas import Strict, validated
from .train import SNAPSHOT_DIR, snapshot_dirs

RESULT_FILE = "result.json"


class _Point(Strict):
    step: int
    n_nodes: int
    n_edges: int
    loss_full: float
    loss_circuit: float
    reached: bool


class _ResultFile(Strict):
    experiment: Literal["formation"]
    run: str
    task: str
    target_loss: float
    points: list[_Point]


@dataclass(frozen=True)
class FormationStep:
    step: int
    checkpoint: Path  # the run's weights at this step
    circuit_path: Path
    n_nodes: int
    n_edges: int
    loss_full: float
    loss_circuit: float
    reached: bool  # the circuit reached the target loss


@dataclass(frozen=True)
class FormationResult:
    folder: Path
    run: Path
    task: str
    target_loss: float
    steps: list[FormationStep]  # by step

    @classmethod
    def load(cls, folder) -> FormationResult:
        folder = Path(folder)
        path = folder / RESULT_FILE if folder.is_dir() else folder
        folder = path.parent
        if not path.is_file():
            raise FileFormatError(
                f"{folder}: no {RESULT_FILE}; choose the --out folder of `experiment formation`"
            )
        data = validated(_ResultFile, read_json(path), str(path))
        if not data.points:
            raise FileFormatError(f"{path}: field 'points': empty (no kept checkpoint was pruned)")
        run = _find_run(data.run, folder)
        if run is None:
            raise FileFormatError(
                f"{path}: field 'run': the training run {data.run} is not there (its kept "
                f"checkpoints, {SNAPSHOT_DIR}/step-*, hold each step's weights)"
            )
        snapshots = dict(snapshot_dirs(run))
        steps = []
        for i, p in enumerate(sorted(data.points, key=lambda p: p.step)):
            circuit = folder / "circuits" / f"step-{p.step:06d}" / f"{data.task}.json"
            if not circuit.is_file():
                raise FileFormatError(f"{path}: field 'points[{i}]': the circuit {circuit} is missing")
            if p.step not in snapshots:
                raise FileFormatError(
                    f"{path}: field 'points[{i}]': the run {run} has no kept checkpoint of step {p.step}"
                )
            steps.append(
                FormationStep(
                    p.step,
                    snapshots[p.step],
                    circuit,
                    p.n_nodes,
                    p.n_edges,
                    p.loss_full,
                    p.loss_circuit,
                    p.reached,
                )
            )
        return cls(folder, run, data.task, data.target_loss, steps)

    def circuit(self, i: int) -> Circuit:
        return Circuit.load(self.steps[i].circuit_path)

    def index_of(self, step: int) -> int:
        """The position of `step` among the steps (ValueError if it was not kept)."""
        for i, s in enumerate(self.steps):
            if s.step == step:
                return i
        raise ValueError(f"step {step} is not one of the run's kept checkpoints")


def _find_run(recorded: str, folder: Path) -> Path | None:
    """The run as recorded, else beside or above the result's folder (both moved together)."""
    path = Path(recorded)
    candidates = [path] if path.is_absolute() else [folder / path, Path.cwd() / path]
    candidates += [folder.parent / path.name, folder / path.name]
    for candidate in candidates:
        if snapshot_dirs(candidate):
            return candidate.resolve()
    return None
