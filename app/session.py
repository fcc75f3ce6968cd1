"""The open document: model, circuit, prompt, interventions (with undo), selection.

Views read from the session and push user input into it; they compute nothing. Every change
is announced by a signal. Interventions are plain core data; undo/redo adds and removes them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from core.circuit import Circuit
from core.fileio import FileFormatError
from core.interventions import Intervention
from core.outputs import Prediction, predict
from core.tasks import BUILTIN_TASKS, Example, get_task
from core.workbench import Workbench, default_model_dir, resolve_model_path

from .workspace import Workspace, check_against_model

log = logging.getLogger(__name__)


class SetInterventions(QUndoCommand):
    """Replace the intervention list (adding, removing or changing several at once)."""

    def __init__(self, session: "Session", new: list[Intervention], text: str):
        super().__init__(text)
        self.session, self.old, self.new = session, list(session.interventions), list(new)

    def redo(self):
        self.session._set_interventions(self.new)

    def undo(self):
        self.session._set_interventions(self.old)


class Session(QObject):
    model_changed = Signal()
    circuit_changed = Signal()
    prompt_changed = Signal()
    interventions_changed = Signal()
    predictions_changed = Signal()
    selection_changed = Signal()
    position_changed = Signal()
    graph_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bench: Workbench | None = None
        self.circuit: Circuit | None = None
        self.circuit_path: str | None = None  # None: pruned here and not saved yet
        self.task = None
        self.example: Example | None = None
        self.prompt = ""
        self.ids: list[int] = []
        self.position = -1
        self.interventions: list[Intervention] = []
        self.selection: list[str] = []
        self.baseline: Prediction | None = None
        self.current: Prediction | None = None
        self.undo_stack = QUndoStack(self)
        self.graph_mode = "circuit"  # "circuit", "neighbours" or "model"
        self.graph = None  # GraphData of what the graph view shows

    # ---- documents -------------------------------------------------------------------------

    def open_model(self, path) -> None:
        bench = Workbench(path)
        _ = bench.means  # computed (or read from cache) once, up front
        self.bench = bench
        self.circuit = self.circuit_path = None
        self.interventions = []
        self.selection = []
        self.undo_stack.clear()
        self.baseline = self.current = None  # stale: they describe the previous model
        self.model_changed.emit()
        self.rebuild_graph()
        self.set_prompt(self.prompt, self.example)

    def open_default(self) -> None:
        self.open_model(default_model_dir())
        circuit_path = default_model_dir() / "circuits" / "single_double_quote.json"
        if circuit_path.is_file():
            self.open_circuit(circuit_path)

    def open_circuit(self, path) -> None:
        circuit = Circuit.load(path)
        self.set_circuit(circuit, str(path))

    def save_circuit(self, path) -> None:
        self.circuit.save(path)
        self.circuit_path = str(path)

    def set_circuit(self, circuit: Circuit | None, path: str | None = None) -> None:
        self.circuit, self.circuit_path = circuit, path
        self.rebuild_graph()
        if circuit is not None:
            try:
                self.set_task(get_task(circuit.task))
            except ValueError:
                pass
        self.circuit_changed.emit()

    def set_task(self, task) -> None:
        self.task = task
        example = task.examples(1, "heldout")[0]
        self.set_prompt(example.prompt, example)

    def set_graph_mode(self, mode: str) -> None:
        if mode not in ("circuit", "neighbours", "model"):
            raise ValueError(f"unknown graph view {mode!r}")
        self.graph_mode = mode
        self.rebuild_graph()

    def rebuild_graph(self) -> None:
        from .views.graph_layout import build_graph, neighbourhood

        if self.bench is None:
            return
        model = self.bench.model
        mode = self.graph_mode if self.circuit is not None else "model"
        if mode == "circuit":
            nodes = self.circuit.nodes
        elif mode == "neighbours":
            nodes = neighbourhood(model, self.circuit.nodes)
        else:
            nodes = model.topology.all_nodes()
        self.graph = build_graph(model, nodes)
        self.graph_changed.emit()

    # ---- prompt and position ---------------------------------------------------------------

    def set_prompt(self, text: str, example: Example | None = None) -> None:
        self.prompt = text
        self.example = example if example is not None and example.prompt == text else None
        self.ids = self.encode(text, self.bench)
        self.position = len(self.ids) - 1
        self.prompt_changed.emit()
        self.recompute(baseline=True)

    @staticmethod
    def encode(text: str, bench) -> list[int]:
        """The prompt's tokens, at most the model's context: a longer prompt keeps its end."""
        if bench is None or not text:
            return []
        ids = bench.tokenizer.encode(text)
        block = bench.model.config.block_size
        if len(ids) > block:
            log.warning(
                f"the prompt has {len(ids)} tokens, more than the model's context of "
                f"{block}: using its last {block}"
            )
        return ids[-block:]

    def set_position(self, position: int) -> None:
        if 0 <= position < len(self.ids) and position != self.position:
            self.position = position
            self.position_changed.emit()
            self.recompute(baseline=True)

    def tokens(self) -> list[str]:
        return [self.bench.tokenizer.token_text(i) for i in self.ids]

    @property
    def candidates(self) -> tuple[str, str] | None:
        if self.example is None:
            return None
        return self.example.correct, self.example.incorrect

    # ---- interventions ---------------------------------------------------------------------

    def ablate(self, kind: str, targets: list[str], mode: str = "mean") -> None:
        keep = [iv for iv in self.interventions if iv.target not in set(targets)]
        new = keep + [Intervention(kind, t, mode) for t in targets]
        label = targets[0] if len(targets) == 1 else f"{len(targets)} {kind}s"
        self.undo_stack.push(SetInterventions(self, new, f"Ablate {label} ({mode})"))

    def restore(self, targets: list[str]) -> None:
        new = [iv for iv in self.interventions if iv.target not in set(targets)]
        if len(new) != len(self.interventions):
            label = targets[0] if len(targets) == 1 else f"{len(targets)} items"
            self.undo_stack.push(SetInterventions(self, new, f"Restore {label}"))

    def clear_interventions(self) -> None:
        if self.interventions:
            self.undo_stack.push(SetInterventions(self, [], "Restore everything"))

    def ablated(self, target: str) -> Intervention | None:
        return next((iv for iv in self.interventions if iv.target == target), None)

    def _set_interventions(self, interventions: list[Intervention]) -> None:
        self.interventions = list(interventions)
        self.interventions_changed.emit()
        self.recompute(baseline=False)

    # ---- selection -------------------------------------------------------------------------

    def select(self, nodes: list[str], add: bool = False) -> None:
        self.selection = list(dict.fromkeys((self.selection if add else []) + nodes))
        self.selection_changed.emit()

    # ---- the forward pass ------------------------------------------------------------------

    def recompute(self, baseline: bool) -> None:
        if self.bench is None or not self.ids:
            self.baseline = self.current = None
            self.predictions_changed.emit()
            return
        model, tok = self.bench.model, self.bench.tokenizer
        if baseline or self.baseline is None:
            self.baseline = predict(model, tok, self.ids, (), None, self.candidates, self.position)
        if self.interventions:
            self.current = predict(
                model, tok, self.ids, self.interventions, self.bench.means, self.candidates, self.position
            )
        else:
            self.current = self.baseline
        self.predictions_changed.emit()

    # ---- workspaces ------------------------------------------------------------------------

    def workspace(self, edge_threshold: int = 0) -> Workspace:
        """The open document as a workspace (the edge threshold lives in the window)."""
        task = self.task.name if self.task is not None and self.task.name in BUILTIN_TASKS else None
        return Workspace(
            self.model_ref,
            self.circuit,
            self.circuit_path,
            list(self.interventions),
            self.prompt,
            self.example,
            task,
            self.position,
            self.graph_mode,
            edge_threshold,
            list(self.selection),
        )

    def restore_workspace(self, ws: Workspace, source: str) -> None:
        """Open a workspace. Everything is loaded and checked first: on an error (a
        FileFormatError naming `source` and the field) the session is left as it was."""
        bench = self.bench
        if bench is None or Path(bench.name).resolve() != resolve_model_path(ws.model).resolve():
            try:
                bench = Workbench(ws.model)
                _ = bench.means
            except (FileFormatError, ValueError, OSError) as e:
                raise FileFormatError(f"{source}: field 'model': {e}") from None
        check_against_model(ws, bench.model, bench.tokenizer, source)
        model_changed = bench is not self.bench
        self.bench = bench
        self.circuit, self.circuit_path = ws.circuit, ws.circuit_path
        self.task = BUILTIN_TASKS[ws.task] if ws.task else None
        self.graph_mode = ws.graph_mode
        self.interventions = list(ws.interventions)
        self.undo_stack.clear()
        self.selection = list(ws.selection)
        self.prompt, self.example = ws.prompt, ws.example
        self.ids = self.encode(ws.prompt, bench)
        self.position = ws.position
        self.baseline = self.current = None
        if model_changed:
            self.model_changed.emit()
        self.rebuild_graph()
        self.circuit_changed.emit()
        self.prompt_changed.emit()
        self.interventions_changed.emit()
        self.selection_changed.emit()
        self.recompute(baseline=True)

    @property
    def model_ref(self) -> str:
        """'default' for the shipped model, else the checkpoint folder."""
        path = Path(self.bench.name)
        return "default" if path.resolve() == default_model_dir().resolve() else str(path)

    @property
    def model_name(self) -> str:
        if self.bench is None:
            return ""
        path = Path(self.bench.name)
        return "default model" if path == default_model_dir() else path.name


def builtin_tasks():
    return list(BUILTIN_TASKS.values())
