"""A workspace file: what is needed to come back to the same view of a model (no Qt).

JSON: {"format": "sparse-circuits-workspace", "version": 1,
       "model": "default" or a checkpoint folder,
       "circuit": null, {"path": circuit file} or {"inline": circuit JSON} (pruned, never saved),
       "interventions": [{"kind", "target", "mode"}],
       "prompt": text, "example": {"correct", "incorrect", "pair": its twin's prompt (optional)}
                  or null, "task": built-in name or null,
       "position": token index (-1 for an empty prompt),
       "graph": {"mode": "circuit" | "neighbours" | "model", "edge_threshold": 0-100,
                 "selection": [node]},
       "annotations": {node: {"label", "note"}},  (optional: files before it lack it)
       "comparison": null, {"path": circuit file} or {"inline": circuit JSON},  (optional:
           the circuit compared with the open one)
       "formation": null or {"folder": an `experiment formation` result, "step": the step
           shown, "reference": "last" | "previous" | "none"}}  (optional: a task across a
           training run, the model being that step's checkpoint)

The checks are pydantic models (WorkspaceFile below); every error is one FileFormatError line
that names the file and the field: `w.json: field 'interventions[0].mode': must be mean, zero or
patch`. A patch needs the example's pair, which patches take their values from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, model_validator

from core.circuit import Circuit
from core.fileio import FileFormatError, atomic_write_text, read_json
from core.formation_result import FormationResult
from core.interventions import Intervention, check_intervention
from core.schemas import CircuitFile, InterventionEntry, NodeName, Strict, validated
from core.tasks import BUILTIN_TASKS, Example
from core.workbench import resolve_model_path

FORMAT = "sparse-circuits-workspace"
VERSION = 1
SUFFIX = ".scws.json"
FILE_FILTER = f"Workspace (*{SUFFIX} *.json)"
GraphMode = Literal["circuit", "neighbours", "model"]
GRAPH_MODES = get_args(GraphMode)
MAX_LABEL, MAX_NOTE = 200, 20_000


@dataclass
class Workspace:
    model: str  # "default" or a checkpoint folder
    circuit: Circuit | None = None
    circuit_path: str | None = None  # None: the circuit is stored inline
    interventions: list[Intervention] = field(default_factory=list)
    prompt: str = ""
    example: Example | None = None  # gives the task's two candidates
    task: str | None = None
    position: int = -1
    graph_mode: str = "circuit"
    edge_threshold: int = 0  # percent of the largest |weight|
    selection: list[str] = field(default_factory=list)
    annotations: dict[str, dict] = field(default_factory=dict)  # node -> {"label", "note"}
    pair: Example | None = None  # the example's twin: the prompt patches take values from
    compared: Circuit | None = None  # the circuit compared with `circuit`
    compared_path: str | None = None  # None: stored inline
    formation: FormationResult | None = None  # stepping through a training run's circuits
    formation_step: int = 0  # the step shown (a training step, not an index)
    formation_reference: str = "last"

    def to_dict(self) -> dict:
        circuit = _circuit_ref(self.circuit, self.circuit_path)
        example = (
            {"correct": self.example.correct, "incorrect": self.example.incorrect}
            if self.example is not None
            else None
        )
        if example is not None and self.pair is not None:
            example["pair"] = self.pair.prompt
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": self.model,
            "circuit": circuit,
            "interventions": [iv.to_dict() for iv in self.interventions],
            "prompt": self.prompt,
            "example": example,
            "task": self.task,
            "position": self.position,
            "graph": {
                "mode": self.graph_mode,
                "edge_threshold": self.edge_threshold,
                "selection": list(self.selection),
            },
            "annotations": {node: dict(a) for node, a in self.annotations.items()},
            "comparison": _circuit_ref(self.compared, self.compared_path),
            "formation": (
                {
                    "folder": str(self.formation.folder),
                    "step": self.formation_step,
                    "reference": self.formation_reference,
                }
                if self.formation is not None
                else None
            ),
        }


def _circuit_ref(circuit: Circuit | None, path: str | None) -> dict | None:
    if circuit is None:
        return None
    return {"path": path} if path else {"inline": circuit.to_dict()}


def save_workspace(path, workspace: Workspace) -> None:
    atomic_write_text(Path(path), json.dumps(workspace.to_dict(), indent=1))


# ---- the file, as pydantic models (core.schemas turns their errors into one line) -----------


def _check(test, problem: str):
    """An after-validator: the value if `test(value)`, else a ValueError saying `problem`."""

    def check(value):
        if not test(value):
            raise ValueError(problem.format(value=value))
        return value

    return AfterValidator(check)


FormatName = Annotated[
    str, _check(lambda f: f == FORMAT, f"expected {FORMAT!r}, got {{value!r}}: this is not a workspace file")
]
Version = Annotated[
    int,
    _check(
        lambda v: v <= VERSION,
        f"version {{value}} is from a newer version of the app (this one reads version {VERSION})",
    ),
]
ModelPath = Annotated[
    str, _check(lambda m: resolve_model_path(m).exists(), "the model {value} no longer exists")
]
CircuitPath = Annotated[str, _check(lambda p: Path(p).is_file(), "the circuit file {value} no longer exists")]
TaskName = Annotated[str, _check(lambda t: t in BUILTIN_TASKS, "unknown task {value!r}")]
Percent = Annotated[int, _check(lambda t: 0 <= t <= 100, "must be from 0 to 100 (got {value})")]


class CircuitRef(Strict):
    """Where the circuit is: a file (`path`, which must exist) or written out (`inline`)."""

    path: CircuitPath | None = None
    inline: CircuitFile | None = None

    @model_validator(mode="after")
    def _path_or_inline(self):
        if self.path is None and self.inline is None:
            raise ValueError("must hold a 'path' to a circuit file or an 'inline' circuit")
        return self


class ExampleEntry(Strict):
    correct: str
    incorrect: str
    pair: str | None = None  # the twin's prompt (its answers are these two, swapped)


class GraphEntry(Strict):
    mode: GraphMode
    edge_threshold: Percent
    selection: list[NodeName]


class AnnotationEntry(Strict):
    label: Annotated[str, _check(lambda t: len(t) <= MAX_LABEL, f"longer than {MAX_LABEL} characters")] = ""
    note: Annotated[str, _check(lambda t: len(t) <= MAX_NOTE, f"longer than {MAX_NOTE} characters")] = ""


class FormationEntry(Strict):
    folder: str
    step: int
    reference: Literal["last", "previous", "none"] = "last"


class WorkspaceFile(Strict):
    """A workspace file: every field is required (null where the docstring above allows it)
    but `annotations`; unknown fields are ignored."""

    format: FormatName
    version: Version
    model: ModelPath
    circuit: CircuitRef | None
    interventions: list[InterventionEntry]
    prompt: str
    example: ExampleEntry | None
    task: TaskName | None
    position: int
    graph: GraphEntry
    annotations: dict[NodeName, AnnotationEntry] = {}
    comparison: CircuitRef | None = None
    formation: FormationEntry | None = None


def load_workspace(path) -> Workspace:
    """Read and check a workspace file; the model and circuit files it names must exist.
    Whether its node names fit the model is checked by `check_against_model`."""
    return workspace_from_dict(read_json(Path(path), limit=256 << 20), str(path))


def workspace_from_dict(data: dict, source: str) -> Workspace:
    """A workspace from its JSON, or a FileFormatError naming `source` and the field."""
    f = validated(WorkspaceFile, data, source)
    circuit, circuit_path = _read_circuit(f.circuit, "circuit", source)
    compared, compared_path = _read_circuit(f.comparison, "comparison", source)
    example = pair = None
    if f.example is not None:
        example = Example(f.prompt, f.example.correct, f.example.incorrect)
        if f.example.pair is not None:
            pair = Example(f.example.pair, f.example.incorrect, f.example.correct)
    interventions = [Intervention(iv.kind, iv.target, iv.mode) for iv in f.interventions]
    formation = None
    if f.formation is not None:
        try:
            formation = FormationResult.load(f.formation.folder)
            formation.index_of(f.formation.step)
        except (FileFormatError, ValueError) as e:
            raise FileFormatError(f"{source}: field 'formation': {e}") from None
    return Workspace(
        f.model,
        circuit,
        circuit_path,
        interventions,
        f.prompt,
        example,
        f.task,
        f.position,
        f.graph.mode,
        f.graph.edge_threshold,
        list(f.graph.selection),
        {node: {"label": a.label, "note": a.note} for node, a in f.annotations.items()},
        pair,
        compared,
        compared_path,
        formation,
        f.formation.step if f.formation is not None else 0,
        f.formation.reference if f.formation is not None else "last",
    )


def _read_circuit(ref: CircuitRef | None, name: str, source: str) -> tuple[Circuit | None, str | None]:
    if ref is None:
        return None, None
    if ref.path is None:
        return Circuit.from_validated(ref.inline), None
    try:
        return Circuit.load(ref.path), ref.path
    except FileFormatError as e:
        raise FileFormatError(f"{source}: field '{name}.path': {e}") from None


def node_in_model(model, node: str) -> bool:
    try:
        model.topology.check_node(node)
    except ValueError:
        return False
    return True


def check_against_model(workspace: Workspace, model, tokenizer, source: str) -> None:
    """Every node the workspace names exists in `model`, and its position is in the prompt."""

    def fail(name, problem):
        raise FileFormatError(f"{source}: field '{name}': {problem}")

    for name, circuit in (("circuit", workspace.circuit), ("comparison", workspace.compared)):
        for node in circuit.nodes if circuit is not None else ():
            if not node_in_model(model, node):
                fail(name, f"node {node!r} is not in the model")
    for i, iv in enumerate(workspace.interventions):
        ends = [iv.target] if iv.kind == "node" else list(iv.target.partition("->")[::2])
        for node in ends:
            if not node_in_model(model, node):
                fail(f"interventions[{i}]", f"node {node!r} is not in the model")
        try:
            check_intervention(model, iv)
        except ValueError as e:
            fail(f"interventions[{i}]", str(e))
        if iv.mode == "patch" and workspace.pair is None:
            fail(f"interventions[{i}]", "a patch from the paired prompt, but the example has no pair")
    for node in workspace.selection:
        if not node_in_model(model, node):
            fail("graph.selection", f"node {node!r} is not in the model")
    for node in workspace.annotations:
        if not node_in_model(model, node):
            fail("annotations", f"node {node!r} is not in the model")
    n = len(tokenizer.encode(workspace.prompt)) if workspace.prompt else 0
    n = min(n, model.config.block_size)  # the session keeps the prompt's last tokens
    if not (0 <= workspace.position < n or n == 0 and workspace.position == -1):
        fail("position", f"{workspace.position} is not a token of the prompt ({n} tokens)")
