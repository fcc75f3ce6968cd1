"""The open document: model, circuit, prompt, interventions (with undo), selection.

Views read from the session and push user input into it; they compute nothing. Every change
is announced by a signal. Interventions are plain core data; undo/redo adds and removes them.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from core.ablation import NO_SOURCE
from core.circuit import Circuit
from core.compare import Comparison, compare
from core.data.token_ids import NO_MEANS, NO_TOKENIZER
from core.data.tokenizer import TokenizerError
from core.fileio import FileFormatError
from core.formation_result import FormationResult
from core.interventions import Intervention, needs_source
from core.openai_viz import find_model_dir
from core.outputs import ExampleScores, Prediction, predict, score_examples
from core.pipelines.events import CircuitOpened, ModelOpened, Progress, Status
from core.pipelines.opening import open_viz_circuit, open_workbench
from core.provenance import CircuitMismatch, check_circuit_fits
from core.script import python_script
from core.tasks import BUILTIN_TASKS, Example, get_task
from core.workbench import Workbench, default_model_dir, resolve_model_path

from .workers import LatestWorker
from .workspace import MAX_LABEL, MAX_NOTE, Workspace, check_against_model

log = logging.getLogger(__name__)

# Work that would hold the window for more than a frame or two runs in a worker: a graph of
# more nodes than this (the shipped model's whole graph, 2,816 nodes, takes ~250 ms to lay
# out), and the forward pass of a model with more parameters than this (~10 ms at 5M).
INLINE_GRAPH_NODES = 1000
INLINE_MODEL_PARAMS = 20_000_000
N_EXAMPLES = 32  # held-out examples of the current task, scored one by one


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
    annotations_changed = Signal()
    position_changed = Signal()
    graph_changed = Signal()
    task_changed = Signal()
    scores_changed = Signal()  # the task's examples were scored (`scores`)
    comparison_changed = Signal()  # a circuit to compare with was opened, or comparing ended
    formation_changed = Signal()  # a training run's steps were opened or left, or a step shown
    # A model being opened in the background: what is being done, steps done, of all (0: not
    # known); `job_done` when it is over, `job_failed` (what, why) when it failed.
    job_progress = Signal(str, int, int)
    job_done = Signal()
    job_failed = Signal(str, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bench: Workbench | None = None
        # OpenAI models' tokenizer folders the user chose, by resolved model folder (the app
        # keeps them in its settings); a model with a tinypython/ folder beside it needs none.
        self.tokenizer_dirs: dict[str, str] = {}
        self.circuit: Circuit | None = None
        self.circuit_path: str | None = None  # None: pruned here and not saved yet
        # A second circuit of this model, compared with the open one (A): B, and where it is.
        self.compared: Circuit | None = None
        self.compared_path: str | None = None  # None: kept inline (one of OpenAI's, converted)
        self.comparison: Comparison | None = None
        self.task = None
        self.example: Example | None = None
        self.pair: Example | None = None  # the example's twin: what patches take values from
        self._twins: dict[Example, Example] = {}  # of the task's examples
        self.prompt = ""
        self.ids: list[int] = []
        self.position = -1
        self.interventions: list[Intervention] = []
        self.selection: list[str] = []
        self.annotations: dict[str, dict] = {}  # node -> {"label", "note"}: the user's names
        self.baseline: Prediction | None = None
        self.current: Prediction | None = None
        self.undo_stack = QUndoStack(self)
        self.graph_mode = "circuit"  # "circuit", "neighbours" or "model"
        self.graph = None  # GraphData of what the graph view shows
        self._io_cache: dict = {}  # the graph's inputs and outputs, while they stand
        self.formation: FormationResult | None = None  # a training run's circuits, step by step
        self.formation_index = -1  # the step shown
        self.formation_reference = "last"  # compared with the "last" step, the "previous" or "none"
        self._step_benches: dict[Path, Workbench] = {}  # the steps' models opened lately, by checkpoint
        self._opening = LatestWorker()
        self._when_opened = None  # what to do with the bench once the job has opened it
        self._opening_what = self._error_prefix = ""
        self._graph_job = LatestWorker()
        self._predict_job = LatestWorker()
        self._scores_job = LatestWorker()
        self.scores: ExampleScores | None = None  # of the task's examples, None while computing
        self._rescore_timer = QTimer(self)
        self._rescore_timer.setSingleShot(True)
        self._rescore_timer.setInterval(150)
        self._rescore_timer.timeout.connect(self._start_scoring)

    # ---- documents -------------------------------------------------------------------------

    def open_model(self, path) -> None:
        """Open a model here and now (scripts and tests); the app uses `open_in_background`."""
        bench = Workbench(path)
        _ = bench.means
        self._install(bench)

    def open_default(self) -> None:
        self.open_model(default_model_dir())
        self._open_default_circuit()

    def open_in_background(self, path, then=None, what: str = "open the checkpoint") -> None:
        """Open a model in a worker thread, with progress, so that the window stays live; the
        open document is unchanged until it has loaded. Then `then()` runs. A failure is
        reported by `job_failed(what, message)` and changes nothing. A newer open wins."""

        def install(bench):
            self._install(bench)
            if then is not None:
                then()

        self._start_opening(path, install, what)

    def tokenizer_for(self, model_path) -> str | None:
        """The tokenizer folder the user chose for this OpenAI model (None: found beside it)."""
        return self.tokenizer_dirs.get(str(Path(model_path).resolve()))

    def open_default_in_background(self, then=None) -> None:
        def circuit_then():
            self._open_default_circuit()
            if then is not None:
                then()

        self.open_in_background(default_model_dir(), circuit_then, "open the default model")

    @property
    def busy(self) -> bool:
        """A model is being opened."""
        return self._opening.running()

    def stop_jobs(self, timeout_ms: int = 5000) -> bool:
        self._rescore_timer.stop()
        jobs = (self._opening, self._graph_job, self._predict_job, self._scores_job)
        return all([job.stop(timeout_ms) for job in jobs])

    def _start_opening(self, path, when_opened, what: str, error_prefix: str = "", make=None) -> None:
        """Run an opening job (`make`, default: open the model at `path`); `when_opened(item)`
        takes its final event, ModelOpened or CircuitOpened, on the GUI thread."""
        self._when_opened, self._opening_what, self._error_prefix = when_opened, what, error_prefix
        self.job_progress.emit(f"Opening {Path(path).name}…", 0, 0)
        self._opening.start(
            make or (lambda: open_workbench(path, tokenizer=self.tokenizer_for(path))),
            self._on_opening_item,
            self._on_opening_error,
            self._on_opening_end,
        )

    def _on_opening_item(self, item) -> None:
        if not self._opening.is_current(self.sender()):
            return
        if isinstance(item, Status):
            self.job_progress.emit(item.text[:1].upper() + item.text[1:], 0, 0)
        elif isinstance(item, Progress):
            self.job_progress.emit(item.text[:1].upper() + item.text[1:], item.done, item.total)
        elif isinstance(item, (ModelOpened, CircuitOpened)):
            self._opening.release()
            when_opened, self._when_opened = self._when_opened, None
            try:
                when_opened(item.bench if isinstance(item, ModelOpened) else item)
            except (FileFormatError, ValueError, OSError) as e:
                self.job_failed.emit(self._opening_what, str(e))
            self.job_done.emit()

    def _on_opening_error(self, message: str) -> None:
        if self._opening.is_current(self.sender()):
            self._opening.release()
            self.job_failed.emit(self._opening_what, self._error_prefix + message.split("\n\n")[0])
            self.job_done.emit()

    def _on_opening_end(self, completed: bool) -> None:
        if self._opening.is_current(self.sender()):  # cancelled before it had opened
            self._opening.release()
            self.job_done.emit()

    def _cancel_opening(self) -> None:
        """A change made here and now wins over an opening still under way (its late result
        would undo the change)."""
        if self._opening.running():
            self._opening.cancel()
            self._when_opened = None
            self.job_done.emit()

    def _install(self, bench: Workbench, formation: bool = False) -> None:
        if not formation:
            self._leave_formation()
        self.bench = bench
        self.circuit = self.circuit_path = None
        self.compared = self.compared_path = self.comparison = None  # the old model's
        self.interventions = []
        self.selection = []
        self.annotations = {}  # another model's channels
        self.undo_stack.clear()
        self.baseline = self.current = None  # stale: they describe the previous model
        self.graph = None  # likewise, until the new model's graph is laid out
        self.model_changed.emit()
        self.annotations_changed.emit()
        self.rebuild_graph()
        if not bench.reads_text:
            log.warning("%s: %s; mean ablation and the task's examples need it", bench.name, NO_TOKENIZER)
            self.prompt, self.example = self._ids_prompt(bench), None
        self.set_prompt(self.prompt, self.example)
        self.rescore()

    def _open_default_circuit(self) -> None:
        circuit_path = default_model_dir() / "circuits" / "single_double_quote.json"
        if circuit_path.is_file():
            self.open_circuit(circuit_path)

    def open_circuit(self, path, then=None) -> None:
        """A circuit file, here and now; or, in the background (`open_viz_in_background`), one of
        OpenAI's viz_data.pt circuits. Then `then()` runs."""
        if str(path).endswith(".pt"):
            self.open_viz_in_background(path, then)
            return
        circuit = Circuit.load(path)
        self._check_fits(circuit, path)
        self._cancel_opening()
        self._leave_formation()
        self.set_circuit(circuit, str(path))
        if then is not None:
            then()

    def open_viz_in_background(self, path, then=None) -> None:
        """One of OpenAI's viz_data.pt circuits, read in a worker: with the model in models/<model>/
        beside its viz/ folder (opened first when it is not the open one), else with the open
        model. The circuit is kept inline, as a pruned one. A failure is reported by
        `job_failed` and changes nothing."""

        def install(opened: CircuitOpened):
            if opened.bench is not None:
                self._install(opened.bench)
            self.set_circuit(opened.circuit, None)
            if then is not None:
                then()

        bench, tokenizers = self.bench, dict(self.tokenizer_dirs)
        make = lambda: open_viz_circuit(path, bench, tokenizers=tokenizers)  # noqa: E731
        self._start_opening(path, install, "open the circuit", make=make)

    def _check_fits(self, circuit: Circuit, source) -> None:
        """A circuit found in another model, or naming nodes this one lacks, is refused
        (CircuitMismatch, a ValueError naming both models) and nothing changes."""
        if self.bench is not None:
            check_circuit_fits(circuit, self.bench.model, self.bench.fingerprint, self.bench.ref, str(source))

    def save_circuit(self, path) -> None:
        """The circuit, carrying the labels and notes of its nodes."""
        notes = {n: self.annotations[n] for n in self.circuit.nodes if n in self.annotations}
        circuit = self.circuit
        if notes or "annotations" in circuit.extra:
            circuit = replace(circuit, extra={**circuit.extra, "annotations": notes})
        circuit.save(path)
        self.circuit, self.circuit_path = circuit, str(path)

    def set_circuit(self, circuit: Circuit | None, path: str | None = None) -> None:
        self.circuit, self.circuit_path = circuit, path
        self._update_comparison()
        if circuit is not None and self._take_annotations(circuit.extra.get("annotations")):
            self.annotations_changed.emit()
        self.rebuild_graph()
        if circuit is not None:
            try:
                self.set_task(get_task(circuit.task))
            except ValueError:
                pass
        self.circuit_changed.emit()

    # ---- comparing two circuits ------------------------------------------------------------

    def compare_with(self, path, then=None) -> None:
        """Compare the open circuit with another of this model's: a circuit file, here and
        now, or one of OpenAI's viz_data.pt files, in the background (failures come through
        `job_failed`). A circuit of another model is refused (CircuitMismatch)."""
        if self.bench is None or self.circuit is None:
            raise ValueError("open a circuit first: it is compared with the one chosen")
        if str(path).endswith(".pt"):
            model_dir = find_model_dir(Path(path))
            if model_dir is not None and Path(self.bench.checkpoint.path).resolve() != model_dir:
                raise CircuitMismatch(
                    f"{path}: the circuit belongs to the model {model_dir}, not to {self.bench.ref}"
                )

            def install(opened: CircuitOpened):
                self.set_compared(opened.circuit, None)
                if then is not None:
                    then()

            bench = self.bench
            make = lambda: open_viz_circuit(path, bench)  # noqa: E731
            self._start_opening(path, install, "compare with the circuit", make=make)
            return
        circuit = Circuit.load(path)
        self._check_fits(circuit, path)
        self.set_compared(circuit, str(path))
        if then is not None:
            then()

    def set_compared(self, circuit: Circuit | None, path: str | None = None) -> None:
        self.compared, self.compared_path = circuit, path
        self._update_comparison()
        self.rebuild_graph()  # the graph shows both circuits' nodes

    def stop_comparing(self) -> None:
        if self.compared is not None:
            self.set_compared(None)
        if self.formation is not None and self.formation_reference != "none":
            self.formation_reference = "none"
            self.formation_changed.emit()

    # ---- a task across a training run ------------------------------------------------------

    def open_formation(self, folder, then=None) -> None:
        """An `experiment formation` result (a FileFormatError names what is wrong): its last
        step is shown, in the background (see show_formation_step)."""
        result = FormationResult.load(folder)
        self.show_formation_step(len(result.steps) - 1, "last", then, result)

    def show_formation_step(self, index: int, reference: str | None = None, then=None, result=None) -> None:
        """The run's model at its `index`-th kept checkpoint (opened in the background unless it
        was lately), with the task's circuit found there, compared with the circuit of the last
        step, the previous one or none (`reference`). The prompt is kept; interventions, which
        were made on another checkpoint's weights, are not."""
        result = result or self.formation
        reference = reference or self.formation_reference
        step = result.steps[index]
        circuit = result.circuit(index)
        other = {"last": len(result.steps) - 1, "previous": index - 1, "none": -1}[reference]
        compared = result.circuit(other) if other >= 0 and other != index else None
        compared_path = str(result.steps[other].circuit_path) if compared is not None else None

        def install(bench: Workbench):
            check_circuit_fits(circuit, bench.model, bench.fingerprint, bench.ref, str(step.circuit_path))
            if compared is not None:
                check_circuit_fits(compared, bench.model, bench.fingerprint, bench.ref, compared_path, False)
            benches = {k: b for k, b in self._step_benches.items() if k != step.checkpoint}
            prompt, example, selection = self.prompt, self.example, list(self.selection)
            if bench is not self.bench:
                self._install(bench, formation=True)
            self._step_benches = dict(list(benches.items())[-3:]) | {step.checkpoint: bench}
            self.formation, self.formation_index, self.formation_reference = result, index, reference
            self.compared, self.compared_path = compared, compared_path
            self.set_circuit(circuit, str(step.circuit_path))
            if self.prompt != prompt:  # the same prompt at every step, to compare the outputs
                self.set_prompt(prompt, example)
            self.select(selection)  # the same channels: the run keeps the model's shape
            self.formation_changed.emit()
            if then is not None:
                then()

        bench = self._step_benches.get(step.checkpoint)
        if bench is not None:
            self._cancel_opening()
            install(bench)
        else:
            self._start_opening(step.checkpoint, install, f"open step {step.step} of the run")

    def _leave_formation(self) -> None:
        """Out of the run: its models are let go, and a comparison with another of its steps
        (another checkpoint's circuit) ends."""
        if self.formation is None:
            return
        steps = {str(s.circuit_path) for s in self.formation.steps}
        if self.compared_path in steps:
            self.compared = self.compared_path = None
            self._update_comparison()
        self.formation, self.formation_index, self._step_benches = None, -1, {}
        self.formation_reference = "last"
        self.formation_changed.emit()

    def _update_comparison(self) -> None:
        old = self.comparison
        both = self.circuit is not None and self.compared is not None
        self.comparison = compare(self.circuit, self.compared) if both else None
        if old is not None or self.comparison is not None:
            self.comparison_changed.emit()

    def graph_circuit_nodes(self) -> list[str]:
        """The nodes the circuit view shows: the circuit's, and the compared one's too."""
        if self.comparison is None:
            return self.circuit.nodes
        c = self.comparison
        return c.shared_nodes + c.only_a_nodes + c.only_b_nodes

    def set_task(self, task) -> None:
        """The current task: its first held-out example becomes the prompt, and its examples
        are scored."""
        self.task = task
        self._twins = task.twins(N_EXAMPLES, "heldout") if task is not None else {}
        self.task_changed.emit()
        if self.bench is not None and not self.bench.reads_text:
            log.warning("The task's examples are text, and %s", NO_TOKENIZER)
            return
        example = self.task_examples()[0]
        self.set_prompt(example.prompt, example)
        self.rescore()

    def task_examples(self) -> list[Example]:
        """The current task's held-out examples that the Examples panel steps through."""
        return self.task.examples(N_EXAMPLES, "heldout") if self.task is not None else []

    def set_candidates(self, correct: str, incorrect: str) -> None:
        """The user's own correct and incorrect continuations of the prompt: each must be one
        token of the model's vocabulary (ValueError says which is not)."""
        tokenizer = self.bench.tokenizer
        for what, text in (("correct", correct), ("incorrect", incorrect)):
            if not text:
                raise ValueError(f"the {what} continuation is empty")
            if tokenizer.token_id(text) is None:
                pieces = [tokenizer.token_text(i) for i in tokenizer.encode(text)]
                raise ValueError(
                    f"the {what} continuation {text!r} is not one token of this model's vocabulary "
                    f"(it is {len(pieces)}: {' | '.join(map(repr, pieces))})"
                )
        if correct == incorrect:
            raise ValueError("the correct and incorrect continuations are the same token")
        self.example = Example(self.prompt, correct, incorrect)
        self.pair = self._twins.get(self.example)
        self.prompt_changed.emit()
        self.recompute(baseline=True)

    def set_graph_mode(self, mode: str) -> None:
        if mode not in ("circuit", "neighbours", "model"):
            raise ValueError(f"unknown graph view {mode!r}")
        self.graph_mode = mode
        self.rebuild_graph()

    def rebuild_graph(self) -> None:
        """The graph of the view's nodes; a large one is laid out in a worker (graph_changed
        is emitted when it is ready, and a newer request supersedes it)."""
        from .views.graph_layout import build_graph, neighbourhood

        self._graph_job.cancel()
        if self.bench is None:
            return
        model, circuit = self.bench.model, self.circuit
        mode = self.graph_mode if circuit is not None else "model"

        shown = self.graph_circuit_nodes() if circuit is not None else []

        def nodes() -> list[str]:
            if mode == "circuit":
                return shown
            if mode == "neighbours":
                return neighbourhood(model, shown)
            return model.topology.all_nodes()

        small = len(shown) if mode == "circuit" else model.topology.n_nodes
        if small <= INLINE_GRAPH_NODES:
            self._set_graph(build_graph(model, nodes()))
        else:
            self._graph_job.start(
                lambda: (build_graph(model, nodes()) for _ in range(1)),
                self._on_graph_built,
                self._on_graph_failed,
                None,
            )

    def graph_io(self):
        """The graph's inputs (the prompt's tokens it reads) and outputs (the answers' logits),
        a GraphIO; None in the whole model's view (app/graph_io.py says why) or with no graph."""
        from .graph_io import graph_io

        if self.bench is None or self.graph is None or self.circuit is None or self.graph_mode == "model":
            return None
        args = (self.bench, self.graph.nodes, self.ids, self.position, self.candidates)
        return graph_io(*args, self.baseline, self.current, self._io_cache)

    def _set_graph(self, graph) -> None:
        self.graph = graph
        self.graph_changed.emit()

    def _on_graph_built(self, graph) -> None:
        if self._graph_job.is_current(self.sender()):
            self._graph_job.release()
            self._set_graph(graph)

    def _on_graph_failed(self, message: str) -> None:
        if self._graph_job.is_current(self.sender()):
            self._graph_job.release()
            log.error("Could not lay out the graph: %s", message)

    # ---- prompt and position ---------------------------------------------------------------

    def set_prompt(self, text: str, example: Example | None = None) -> None:
        self.prompt = text
        self.example = example if example is not None and example.prompt == text else None
        self.pair = self._twins.get(self.example) if self.example is not None else None
        try:
            self.ids = self.encode(text, self.bench)
        except TokenizerError as e:  # text typed for a model read as token ids
            log.error("The prompt: %s", e)
            self.ids = []
        self.position = len(self.ids) - 1
        self.prompt_changed.emit()
        self.recompute(baseline=True)

    @staticmethod
    def _ids_prompt(bench) -> str:
        """A prompt of token ids to start from (0 1 ... 7): a text prompt means nothing to a
        model read as ids."""
        n = min(8, bench.model.config.block_size)
        return " ".join(str(i) for i in range(n))

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
        """Ablate (mode mean or zero) or patch from the paired prompt (mode patch: ValueError
        when the prompt has no pair)."""
        if mode == "patch" and self.pair is None:
            raise ValueError(NO_SOURCE)
        if mode == "mean" and not self.bench.reads_text:
            raise ValueError(NO_MEANS)
        keep = [iv for iv in self.interventions if iv.target not in set(targets)]
        new = keep + [Intervention(kind, t, mode) for t in targets]
        label = targets[0] if len(targets) == 1 else f"{len(targets)} {kind}s"
        text = f"Patch {label} from the paired prompt" if mode == "patch" else f"Ablate {label} ({mode})"
        self.undo_stack.push(SetInterventions(self, new, text))

    @property
    def source_ids(self) -> list[int] | None:
        """The paired prompt's tokens (None: the prompt has no pair)."""
        return self.encode(self.pair.prompt, self.bench) if self.pair is not None else None

    def applicable(self, interventions) -> list[Intervention]:
        """The interventions a forward pass of this prompt can apply: patches only with a pair."""
        if self.pair is not None or not needs_source(interventions):
            return list(interventions)
        log.warning("The patches have no effect on this prompt: it has no paired prompt to patch from")
        return [iv for iv in interventions if iv.mode != "patch"]

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
        self.rescore()

    def python_script(self) -> str | None:
        """The outputs shown, as a script on the core API (None: no model or prompt)."""
        if self.bench is None or not self.ids:
            return None
        interventions = self.applicable(self.interventions)
        pair = self.pair.prompt if self.pair is not None else None
        return python_script(
            self.model_ref, self.prompt, interventions, self.candidates, self.position, pair=pair
        )

    # ---- annotations -----------------------------------------------------------------------

    def annotate(self, node: str, label: str, note: str = "") -> None:
        """Name a node and note what it does (both empty: forget it)."""
        label, note = label.strip(), note.strip()
        old = self.annotations.get(node, {"label": "", "note": ""})
        if (label, note) == (old["label"], old["note"]):
            return
        if label or note:
            self.annotations[node] = {"label": label, "note": note}
        else:
            self.annotations.pop(node, None)
        self.annotations_changed.emit()

    def label(self, node: str) -> str:
        return self.annotations.get(node, {}).get("label", "")

    def _take_annotations(self, given) -> bool:
        """A circuit's annotations (an exported circuit carries them), for nodes the user has
        not annotated here; entries that are not {label, note} strings are skipped."""
        if not isinstance(given, dict) or self.bench is None:
            return False
        taken = False
        for node, a in given.items():
            if node in self.annotations or not isinstance(a, dict):
                continue
            label, note = a.get("label", ""), a.get("note", "")
            if isinstance(label, str) and isinstance(note, str) and (label or note):
                self.annotations[node] = {"label": label[:MAX_LABEL], "note": note[:MAX_NOTE]}
                taken = True
        return taken

    # ---- selection -------------------------------------------------------------------------

    def select(self, nodes: list[str], add: bool = False) -> None:
        self.selection = list(dict.fromkeys((self.selection if add else []) + nodes))
        self.selection_changed.emit()

    # ---- the forward pass ------------------------------------------------------------------

    def recompute(self, baseline: bool) -> None:
        """The outputs with and without the interventions. A large model's forward pass runs
        in a worker (predictions_changed is emitted when it is done; the newest request wins)."""
        self._predict_job.cancel()
        if self.bench is None or not self.ids:
            self.baseline = self.current = None
            self.predictions_changed.emit()
            return
        model, tok = self.bench.model, self.bench.tokenizer
        means = self.bench.means if self.bench.reads_text else None  # token ids: zero and patch only
        ids, candidates, position = list(self.ids), self.candidates, self.position
        interventions, source = self.applicable(self.interventions), self.source_ids
        old_baseline = None if baseline else self.baseline

        def compute() -> tuple[Prediction, Prediction]:
            base = old_baseline or predict(model, tok, ids, (), None, candidates, position)
            if not interventions:
                return base, base
            return base, predict(model, tok, ids, interventions, means, candidates, position, source=source)

        if self.bench.n_params <= INLINE_MODEL_PARAMS:
            self._set_predictions(compute())
        else:
            self._predict_job.start(
                lambda: (compute() for _ in range(1)), self._on_predicted, self._on_predict_failed, None
            )

    def rescore(self) -> None:
        """Score the task's examples with and without the interventions, in a worker (they
        are a table beside the outputs: they may arrive a moment later). Started after a short
        pause, so that a burst of changes scores once and the outputs update first."""
        self._scores_job.cancel()
        self.scores = None
        self.scores_changed.emit()
        self._rescore_timer.start()

    @property
    def scoring(self) -> bool:
        return self._rescore_timer.isActive() or self._scores_job.running()

    def _start_scoring(self) -> None:
        if self.bench is None or self.task is None or not self.bench.reads_text:
            return
        model, tok, means = self.bench.model, self.bench.tokenizer, self.bench.means
        examples, interventions, twins = self.task_examples(), list(self.interventions), dict(self._twins)
        self._scores_job.start(
            lambda: (score_examples(model, tok, examples, interventions, means, twins) for _ in range(1)),
            self._on_scored,
            self._on_score_failed,
            None,
        )

    def _on_scored(self, scores: ExampleScores) -> None:
        if self._scores_job.is_current(self.sender()):
            self._scores_job.release()
            self.scores = scores
            self.scores_changed.emit()

    def _on_score_failed(self, message: str) -> None:
        if self._scores_job.is_current(self.sender()):
            self._scores_job.release()
            log.warning("Could not score the task's examples: %s", message.split("\n\n")[0])

    def _set_predictions(self, predictions: tuple[Prediction, Prediction]) -> None:
        self.baseline, self.current = predictions
        self.predictions_changed.emit()

    def _on_predicted(self, predictions) -> None:
        if self._predict_job.is_current(self.sender()):
            self._predict_job.release()
            self._set_predictions(predictions)

    def _on_predict_failed(self, message: str) -> None:
        if self._predict_job.is_current(self.sender()):
            self._predict_job.release()
            log.error("Could not run the model on the prompt: %s", message)

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
            {node: dict(a) for node, a in self.annotations.items()},
            self.pair,
            self.compared,
            self.compared_path,
            self.formation,
            self.formation.steps[self.formation_index].step if self.formation is not None else 0,
            self.formation_reference,
        )

    def restore_workspace(self, ws: Workspace, source: str) -> None:
        """Open a workspace. Everything is loaded and checked first: on an error (a
        FileFormatError naming `source` and the field) the session is left as it was."""
        bench = self.bench
        if not self._is_open(ws.model):
            try:
                bench = Workbench(ws.model)
                _ = bench.means
            except (FileFormatError, ValueError, OSError) as e:
                raise FileFormatError(f"{source}: field 'model': {e}") from None
        self._apply_workspace(ws, bench, source)

    def restore_workspace_in_background(self, ws: Workspace, source: str, then=None) -> None:
        """`restore_workspace` with the model (when it is not the open one) opened in a
        worker; failures are reported by `job_failed`, and change nothing."""
        what = "open the workspace"
        if self._is_open(ws.model):
            self._cancel_opening()
            self._apply_workspace(ws, self.bench, source)
            if then is not None:
                then()
            return

        def apply(bench):
            self._apply_workspace(ws, bench, source)
            if then is not None:
                then()

        try:
            path = resolve_model_path(ws.model)
        except (ValueError, OSError) as e:
            raise FileFormatError(f"{source}: field 'model': {e}") from None
        self._start_opening(path, apply, what, f"{source}: field 'model': ")

    def _is_open(self, model: str) -> bool:
        return self.bench is not None and (
            Path(self.bench.name).resolve() == resolve_model_path(model).resolve()
        )

    def _apply_workspace(self, ws: Workspace, bench: Workbench, source: str) -> None:
        check_against_model(ws, bench.model, bench.tokenizer, source)
        if ws.compared is not None:
            try:  # in a training run, the compared circuit is another checkpoint's
                same = ws.formation is None
                fp, ref = bench.fingerprint, bench.ref
                check_circuit_fits(ws.compared, bench.model, fp, ref, "the circuit", same)
            except CircuitMismatch as e:
                raise FileFormatError(f"{source}: field 'comparison': {e}") from None
        if ws.formation is not None:
            self._step_benches = {}
            self.formation, self.formation_reference = ws.formation, ws.formation_reference
            self.formation_index = ws.formation.index_of(ws.formation_step)
        else:
            self._leave_formation()
        model_changed = bench is not self.bench
        self.bench = bench
        self.circuit, self.circuit_path = ws.circuit, ws.circuit_path
        self.compared, self.compared_path = ws.compared, ws.compared_path
        self._update_comparison()
        self.task = BUILTIN_TASKS[ws.task] if ws.task else None
        self._twins = self.task.twins(N_EXAMPLES, "heldout") if self.task is not None else {}
        self.graph_mode = ws.graph_mode
        self.interventions = list(ws.interventions)
        self.undo_stack.clear()
        self.selection = list(ws.selection)
        self.annotations = {node: dict(a) for node, a in ws.annotations.items()}
        self.prompt, self.example, self.pair = ws.prompt, ws.example, ws.pair
        self.ids = self.encode(ws.prompt, bench)
        self.position = ws.position
        self.baseline = self.current = None
        if model_changed:
            self.graph = None
            self.model_changed.emit()
        self.rebuild_graph()
        self.circuit_changed.emit()
        self.prompt_changed.emit()
        self.interventions_changed.emit()
        self.selection_changed.emit()
        self.annotations_changed.emit()
        self.task_changed.emit()
        self.formation_changed.emit()
        self.recompute(baseline=True)
        self.rescore()

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
