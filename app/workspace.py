"""A workspace file: what is needed to come back to the same view of a model (no Qt).

JSON: {"format": "sparse-circuits-workspace", "version": 1,
       "model": "default" or a checkpoint folder,
       "circuit": null, {"path": circuit file} or {"inline": circuit JSON} (pruned, never saved),
       "interventions": [{"kind", "target", "mode"}],
       "prompt": text, "example": {"correct", "incorrect"} or null, "task": built-in name or null,
       "position": token index (-1 for an empty prompt),
       "graph": {"mode": "circuit" | "neighbours" | "model", "edge_threshold": 0-100,
                 "selection": [node]}}

Every error is a FileFormatError that names the file and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.circuit import Circuit
from core.fileio import FileFormatError, atomic_write_text, read_json
from core.interventions import Intervention, check_intervention
from core.tasks import BUILTIN_TASKS, Example
from core.workbench import resolve_model_path

FORMAT = "sparse-circuits-workspace"
VERSION = 1
SUFFIX = ".scws.json"
FILE_FILTER = f"Workspace (*{SUFFIX} *.json)"
GRAPH_MODES = ("circuit", "neighbours", "model")


@dataclass
class Workspace:
    model: str                                  # "default" or a checkpoint folder
    circuit: Circuit | None = None
    circuit_path: str | None = None             # None: the circuit is stored inline
    interventions: list[Intervention] = field(default_factory=list)
    prompt: str = ""
    example: Example | None = None              # gives the task's two candidates
    task: str | None = None
    position: int = -1
    graph_mode: str = "circuit"
    edge_threshold: int = 0                     # percent of the largest |weight|
    selection: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        if self.circuit is None:
            circuit = None
        elif self.circuit_path:
            circuit = {"path": self.circuit_path}
        else:
            circuit = {"inline": self.circuit.to_dict()}
        example = ({"correct": self.example.correct, "incorrect": self.example.incorrect}
                   if self.example is not None else None)
        return {"format": FORMAT, "version": VERSION, "model": self.model, "circuit": circuit,
                "interventions": [iv.to_dict() for iv in self.interventions],
                "prompt": self.prompt, "example": example, "task": self.task,
                "position": self.position,
                "graph": {"mode": self.graph_mode, "edge_threshold": self.edge_threshold,
                          "selection": list(self.selection)}}


def save_workspace(path, workspace: Workspace) -> None:
    atomic_write_text(Path(path), json.dumps(workspace.to_dict(), indent=1))


class _Reader:
    """Typed access to the fields of one JSON object, with errors that name file and field."""

    def __init__(self, source: str, data: dict, prefix: str = ""):
        self.source, self.data, self.prefix = source, data, prefix

    def error(self, name: str, problem: str) -> FileFormatError:
        return FileFormatError(f"{self.source}: field '{self.prefix}{name}': {problem}")

    def get(self, name: str, types, what: str, nullable: bool = False):
        if name not in self.data:
            raise FileFormatError(f"{self.source}: missing field '{self.prefix}{name}'")
        value = self.data[name]
        if value is None and nullable:
            return None
        if not isinstance(value, types) or isinstance(value, bool) and types is not bool:
            raise self.error(name, f"must be {what}")
        return value

    def child(self, name: str, nullable: bool = False) -> "_Reader | None":
        value = self.get(name, dict, "an object", nullable)
        return None if value is None else _Reader(self.source, value, f"{self.prefix}{name}.")

    def strings(self, name: str) -> list[str]:
        value = self.get(name, list, "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise self.error(name, "must be a list of strings")
        return list(value)


def load_workspace(path) -> Workspace:
    """Read and check a workspace file; the model and circuit files it names must exist.
    Whether its node names fit the model is checked by `check_against_model`."""
    source = str(path)
    r = _Reader(source, read_json(Path(path), limit=256 << 20))
    if r.get("format", str, "a string") != FORMAT:
        raise r.error("format", f"expected {FORMAT!r}: this is not a workspace file")
    if r.get("version", int, "a whole number") > VERSION:
        raise r.error("version", f"written by a newer version of the app (this one reads "
                                 f"version {VERSION})")
    model = r.get("model", str, "'default' or a checkpoint folder")
    if not resolve_model_path(model).exists():
        raise r.error("model", f"the model {model} no longer exists")
    circuit, circuit_path = _read_circuit(r)
    interventions = []
    for i, d in enumerate(r.get("interventions", list, "a list of interventions")):
        try:
            interventions.append(Intervention.from_dict(d))
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise r.error(f"interventions[{i}]", f"not an intervention ({e})") from None
    prompt = r.get("prompt", str, "a string")
    example = r.child("example", nullable=True)
    if example is not None:
        example = Example(prompt, example.get("correct", str, "a string"),
                          example.get("incorrect", str, "a string"))
    task = r.get("task", str, "a task name", nullable=True)
    if task is not None and task not in BUILTIN_TASKS:
        raise r.error("task", f"unknown task {task!r}")
    graph = r.child("graph")
    mode = graph.get("mode", str, "a string")
    if mode not in GRAPH_MODES:
        raise graph.error("mode", f"must be one of {', '.join(GRAPH_MODES)}")
    threshold = graph.get("edge_threshold", int, "a whole number from 0 to 100")
    if not 0 <= threshold <= 100:
        raise graph.error("edge_threshold", "must be from 0 to 100")
    return Workspace(model, circuit, circuit_path, interventions, prompt, example, task,
                     r.get("position", int, "a token index"), mode, threshold,
                     graph.strings("selection"))


def _read_circuit(r: _Reader) -> tuple[Circuit | None, str | None]:
    c = r.child("circuit", nullable=True)
    if c is None:
        return None, None
    if "path" in c.data:
        path = c.get("path", str, "a circuit file")
        if not Path(path).is_file():
            raise c.error("path", f"the circuit file {path} no longer exists")
        try:
            return Circuit.load(path), path
        except FileFormatError as e:
            raise c.error("path", str(e)) from None
    inline = c.get("inline", dict, "a circuit")
    try:
        return Circuit.from_dict(inline, "the inline circuit"), None
    except (FileFormatError, TypeError, ValueError) as e:
        raise c.error("inline", str(e)) from None


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
    if workspace.circuit is not None:
        for node in workspace.circuit.nodes:
            if not node_in_model(model, node):
                fail("circuit", f"node {node!r} is not in the model")
    for i, iv in enumerate(workspace.interventions):
        ends = [iv.target] if iv.kind == "node" else list(iv.target.partition("->")[::2])
        for node in ends:
            if not node_in_model(model, node):
                fail(f"interventions[{i}]", f"node {node!r} is not in the model")
        try:
            check_intervention(model, iv)
        except ValueError as e:
            fail(f"interventions[{i}]", str(e))
    for node in workspace.selection:
        if not node_in_model(model, node):
            fail("graph.selection", f"node {node!r} is not in the model")
    n = len(tokenizer.encode(workspace.prompt)) if workspace.prompt else 0
    n = min(n, model.config.block_size)          # the session keeps the prompt's last tokens
    if not (0 <= workspace.position < n or n == 0 and workspace.position == -1):
        fail("position", f"{workspace.position} is not a token of the prompt ({n} tokens)")
