"""The main window: the graph in the middle, outputs and interventions on the right, the node
inspector on the left; menus for files, editing and views."""

from __future__ import annotations

import gc
import logging
from functools import partial

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSizePolicy,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qthrottled

from core.verdicts import CHECKS, judge, overall

from .ablation_effects import AblationEffects
from .autosave import Autosave
from .class_sampler import ClassSampler
from .corpus_sampler import CorpusSampler
from .file_menu import FileMenu
from .graph_io import io_legend, io_summary
from .head_attention import HeadAttention
from .log import QtLogHandler
from .session import Session
from .settings import app_settings
from .style import configure_plots
from .views.attention import AttentionPanel
from .views.comparison import ComparisonBar
from .views.graph import NEGATIVE, POSITIVE, UNMEASURED, GraphView
from .views.graph_overlay import comparison_overlay, legend_html
from .views.inspector import NodeInspector
from .views.interventions import InterventionsPanel
from .views.log import LogPanel
from .views.outputs import OutputsPanel
from .views.pruning import PruningPanel
from .views.training import TrainingPanel
from .views.training_run import TrainingRunPanel

log = logging.getLogger(__name__)

GROUP_LEGEND = (
    " &nbsp;·&nbsp; ■ zoomed out: a head, or a location's channels together (its strongest member's "
    "colour; edges between them summed). Zoom in or click one to see its channels"
)
GRAPH_MODES = [("circuit", "Circuit"), ("neighbours", "Circuit + neighbours"), ("model", "Whole model")]


class CircuitSummary(QLabel):
    """The circuit's size, losses and faithfulness checks, always beside the graph."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setTextFormat(Qt.RichText)
        self.setWordWrap(True)
        session.circuit_changed.connect(self.refresh)
        session.model_changed.connect(self.refresh)
        session.task_changed.connect(self.refresh)

    def refresh(self) -> None:
        c = self.session.circuit
        bench = self.session.bench
        note = "" if bench is None or bench.reads_text else TOKEN_IDS_NOTE
        if c is None:
            self.setText(note + "<i>No circuit open: the whole model is shown.</i>")
            self.setToolTip("")
            return
        text = (
            f"<b>{c.task}</b>: {c.size_text()}; task loss "
            f"{c.loss_circuit:.3f} (full model {c.loss_full:.3f}, target {c.target_loss}; "
            f"lower is better, chance 0.693); {c.ablation} ablation"
        )
        if c.checks:
            verdicts = judge(c.checks, c.target_loss, c.loss_full)
            total = overall(verdicts)
            parts = [
                f"<span style='color:{VERDICT_COLOUR[v.status]}'>{LABELS[k]} {c.checks[k]:.3f}</span>"
                for k, v in verdicts.items()
            ]
            text += (
                f"<br>checks <b style='color:{VERDICT_COLOUR[total.status]}'>{total.reason}</b>: "
                + " · ".join(parts)
                + " <i>(hover for what each means)</i>"
            )
            self.setToolTip(checks_tooltip(c.checks, verdicts))
        else:
            text += "<br><i>No faithfulness checks recorded for this circuit.</i>"
            self.setToolTip("")
        task = self.session.task
        if task is not None and task.name != c.task:
            text += (
                f"<br><b style='color:#c0392b'>This circuit was pruned for {c.task}; the current "
                f"task is {task.name}.</b> Its numbers say nothing about {task.name}."
            )
        self.setText(note + text)


TOKEN_IDS_NOTE = (
    "<b style='color:#b7791f'>Token ids:</b> this model's tokenizer (its tinypython folder) is "
    "not at hand, so prompts are typed as ids (12 7 2047) and tokens show as #id; mean ablation "
    "and tasks need text and are off. File ▸ Open checkpoint again to choose the folder.<br>"
)
VERDICT_COLOUR = {"passes": "#2a7d2a", "fails": "#c0392b", "inconclusive": "#b7791f", "note": "#666666"}
LABELS = {c.key: c.label for c in CHECKS}


def checks_tooltip(checks: dict, verdicts: dict) -> str:
    rows = "".join(
        f"<tr><td><b>{c.label}</b></td><td align=right>{checks[c.key]:.3f}</td>"
        f"<td>{c.better} is better</td>"
        f"<td style='color:{VERDICT_COLOUR[verdicts[c.key].status]}'>{verdicts[c.key].status}</td>"
        f"<td>{c.measures}; {verdicts[c.key].reason}</td></tr>"
        for c in CHECKS
        if c.key in verdicts
    )
    return f"<table cellspacing=4>{rows}</table>"


def leave_a_core_to_the_window() -> None:
    """Torch's CPU work (training, pruning, means in workers) uses one core fewer than the
    machine has: with every core busy, the OS starves the GUI thread for 200 ms at a time."""
    import os

    import torch

    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


def device_summary() -> str:
    from core.device import describe, pick_device

    return f"Model on CPU · training on {describe(pick_device(None))}"


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None, settings: QSettings | None = None):
        super().__init__()
        leave_a_core_to_the_window()
        configure_plots()
        self.session = session or Session(self)
        self.settings = settings if settings is not None else app_settings()
        self.log_panel = LogPanel()
        self.log_handler = QtLogHandler().install()
        self.log_handler.emitter.record.connect(self.log_panel.append)
        self.effects = AblationEffects(self.session, self)
        self.edge_effects = AblationEffects(self.session, self, kind="edge")
        self.sampler = CorpusSampler(self.session, self)
        self.class_sampler = ClassSampler(self.session, self)
        self.files = FileMenu(self)
        self.setWindowTitle("Sparse Circuits")
        self.graph = GraphView()
        self.summary = CircuitSummary(self.session)
        self.mode_box = QComboBox()
        for key, label in GRAPH_MODES:
            self.mode_box.addItem(label, key)
        self.threshold = QSlider(Qt.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setMinimumWidth(90)
        self.threshold.setMaximumWidth(240)
        self.threshold.setToolTip("Hide edges whose |weight| is below this share of the largest")
        self.threshold_label = QLabel("edges ≥ 0")
        self.find_box = QLineEdit()
        self.find_box.setPlaceholderText("Find node: 0.mlp.post_act.12, or a label")
        self.find_box.setMinimumWidth(120)
        self.find_box.setMaximumWidth(320)
        fit = QAction("Fit", self)
        fit.setToolTip("Fit the whole graph in view (Ctrl+0)")
        self.effect_action = QAction("Ablation effect", self, checkable=True)
        self.effect_action.setShortcut(QKeySequence("Ctrl+Shift+A"))
        self.effect_action.setToolTip(
            "Colour each circuit node by how much the task's logit "
            "difference changes when that node alone is mean-ablated"
        )
        self.effect_progress = QLabel()
        # Edges get their own overlay, not a share of the nodes': a circuit has more edges than
        # nodes (the bracket circuit 563 to 258), so measuring both would make the nodes wait.
        self.edge_effect_action = QAction("Edge effect", self, checkable=True)
        self.edge_effect_action.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.edge_effect_action.setToolTip(
            "Colour and widen each circuit edge by how much the task's logit "
            "difference changes when that edge alone is mean-ablated"
        )
        self.edge_effect_progress = QLabel()
        # A tool bar, not a row of widgets: what does not fit goes into its » menu instead of
        # widening the window or overlapping.
        bar = QToolBar("Graph")
        bar.setObjectName("graph-toolbar")
        bar.setFloatable(False)
        bar.setMovable(False)
        bar.addWidget(QLabel("View "))
        bar.addWidget(self.mode_box)
        bar.addSeparator()
        bar.addWidget(self.threshold_label)
        bar.addWidget(self.threshold)
        bar.addSeparator()
        bar.addWidget(self.find_box)
        bar.addAction(fit)
        bar.addSeparator()
        bar.addAction(self.effect_action)
        bar.addWidget(self.effect_progress)
        bar.addAction(self.edge_effect_action)
        bar.addWidget(self.edge_effect_progress)
        self.graph_bar = bar
        self.summary.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.summary)
        self.comparison_bar = ComparisonBar(self.session)
        layout.addWidget(self.comparison_bar)
        layout.addWidget(bar)
        layout.addWidget(self.graph, 1)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setWordWrap(True)
        self.legend.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        layout.addWidget(self.legend)
        self._update_legend()
        self.setCentralWidget(central)

        self.outputs = OutputsPanel(self.session)
        self.interventions = InterventionsPanel(self.session)
        self.inspector = NodeInspector(self.session, self.sampler, self.class_sampler)
        self.inspector.setMinimumWidth(240)
        outputs = self._dock("Outputs", self.outputs, Qt.RightDockWidgetArea)
        ivs = self._dock("Interventions", self.interventions, Qt.RightDockWidgetArea)
        self.examples = self.outputs.examples
        inspector = self._dock("Node inspector", self.inspector, Qt.LeftDockWidgetArea)
        self.training = TrainingPanel()
        self.pruning = PruningPanel(self.session)
        self.training_dock = self._dock("Training", self.training, Qt.BottomDockWidgetArea)
        self.pruning_dock = self._dock("Pruning", self.pruning, Qt.BottomDockWidgetArea)
        self.log_dock = self._dock("Log", self.log_panel, Qt.BottomDockWidgetArea)
        self.head_attention = HeadAttention(self.session, self)
        self.attention = AttentionPanel(self.session, self.head_attention)
        self.attention_dock = self._dock("Attention", self.attention, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(self.training_dock, self.pruning_dock)
        self.tabifyDockWidget(self.pruning_dock, self.log_dock)
        self.tabifyDockWidget(self.log_dock, self.attention_dock)
        self.training_run = TrainingRunPanel(self.session)
        self.training_run_dock = self._dock("Training run", self.training_run, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(self.attention_dock, self.training_run_dock)
        # The outputs column runs the window's full height, the bottom docks beside it: that
        # column needs ~500 px, and a bottom dock spanning under it got no more than a fifth
        # of a laptop's height (the Pruning panel grew the window past a 768-pixel screen).
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        for dock in self._bottom_docks():
            dock.hide()
        self.training.model_ready.connect(self.files.open_model)
        self.pruning.circuit_ready.connect(self.session.set_circuit)
        self._side_docks = (inspector, outputs, ivs)
        self._build_menus()
        self.training_run.open_requested.connect(lambda: self.files.open_formation())
        self.training_run.step_requested.connect(self.files.show_formation_step)
        self.device_label = QLabel(device_summary())
        self.device_label.setToolTip(
            "The open model (outputs, ablations, pruning) runs on the "
            "CPU, where a forward pass takes milliseconds; training "
            "uses the best device unless you choose one"
        )
        self.statusBar().addPermanentWidget(self.device_label)
        self.job_bar = QProgressBar()
        self.job_bar.setMaximumWidth(160)
        self.job_bar.setTextVisible(False)
        self.job_bar.hide()
        self.statusBar().addPermanentWidget(self.job_bar)
        self.say("Ready")

        s = self.session
        s.graph_changed.connect(self._on_graph_changed)
        s.comparison_changed.connect(self._update_legend)
        self.graph.detail_changed.connect(self._update_legend)
        s.predictions_changed.connect(self._recolour)
        s.interventions_changed.connect(self._on_interventions)
        s.selection_changed.connect(lambda: self.graph.set_selection(s.selection))
        s.annotations_changed.connect(lambda: self.graph.set_annotations(s.annotations))
        s.model_changed.connect(self._update_status)
        s.circuit_changed.connect(self._update_status)
        s.job_progress.connect(self._on_job_progress)
        s.job_done.connect(self._on_job_done)
        self.graph.node_clicked.connect(lambda node, add: s.select([node], add))
        self.graph.io_clicked.connect(self._on_io_clicked)
        self.graph.ablate_requested.connect(self._ablate)
        s.prompt_changed.connect(lambda: self.graph.set_can_patch(s.pair is not None))
        self.graph.restore_requested.connect(s.restore)
        self.inspector.node_link.connect(lambda node: s.select([node]))
        self.graph.attention_requested.connect(self.show_attention)
        self.inspector.attention_requested.connect(self.show_attention)
        self.mode_box.activated.connect(lambda i: s.set_graph_mode(self.mode_box.itemData(i)))
        # Dragging the slider over a large graph would re-paint its edges on every step:
        # the first step at once, then at most one every 80 ms.
        self._throttled_threshold = qthrottled(self._on_threshold, timeout=80, leading=True)
        self.threshold.valueChanged.connect(self._throttled_threshold)
        self.find_box.returnPressed.connect(self._find)
        fit.triggered.connect(self.graph.fit)
        for overlay, action in (
            (self.effects, self.effect_action),
            (self.edge_effects, self.edge_effect_action),
        ):
            action.toggled.connect(partial(self._toggle_effects, overlay, action))
            overlay.updated.connect(partial(self._on_effects_updated, overlay))
            overlay.finished.connect(partial(self._on_effects_finished, overlay))
            overlay.stopped.connect(partial(self._on_effects_stopped, overlay, action))
        self.autosave = Autosave(self)
        self._fit_to_screen()
        self._default_state = self.saveState()
        # Everything alive now lives as long as the window: out of the collector's full passes,
        # which otherwise walk it all (0.2 s on a big heap) from whichever thread allocates.
        gc.freeze()
        self._docks_sized = self._restore_layout()

    def _dock(self, title, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        s = self.session
        file = self.menuBar().addMenu("&File")
        self.files.build(file)
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.Quit)
        edit = self.menuBar().addMenu("&Edit")
        undo = s.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.Undo)
        redo = s.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        edit.addAction(undo)
        edit.addAction(redo)
        edit.addSeparator()
        self._action(
            edit,
            "Ablate selection (mean)",
            lambda: s.selection and self._ablate("node", s.selection, "mean"),
            "Ctrl+D",
        )
        self._action(edit, "Restore &all", s.clear_interventions, "Ctrl+Shift+R")
        edit.addSeparator()
        self._action(edit, "&Copy as Python", self.copy_as_python, "Ctrl+Shift+C")
        model = self.menuBar().addMenu("&Model")
        self._action(model, "&Train a new model…", lambda: self._show_dock(self.training_dock), "Ctrl+T")
        self._action(model, "&Prune a circuit…", lambda: self._show_dock(self.pruning_dock), "Ctrl+P")
        view = self.menuBar().addMenu("&View")
        self._action(view, "&Fit graph", self.graph.fit, "Ctrl+0")
        view.addAction(self.effect_action)
        view.addAction(self.edge_effect_action)
        view.addSeparator()
        for dock in self.findChildren(QDockWidget):
            action = dock.toggleViewAction()
            if dock is self.attention_dock:
                action.triggered.connect(lambda on: on and self.show_attention())
            else:
                action.triggered.connect(lambda on, d=dock: on and self._show_dock(d))
            view.addAction(action)
        view.addSeparator()
        self._action(view, "&Reset layout", self.reset_layout)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About Sparse Circuits", self.about)

    def _show_dock(self, dock: QDockWidget, share: float = 1 / 3) -> None:
        """Show a dock in front of its tab group; a bottom dock takes a third of the height
        (or `share` of it), so the graph keeps most of the window."""
        dock.show()
        dock.raise_()
        if self.dockWidgetArea(dock) == Qt.BottomDockWidgetArea:
            self.resizeDocks([dock], [max(200, int(self.height() * share))], Qt.Vertical)

    def show_attention(self, node: str | None = None) -> None:
        """The Attention view, of the head of `node` (an attn.q / k / v node) if given; it takes
        half the height, the heatmaps needing rows for the prompt's tokens."""
        if node is not None:
            self.attention.show_node_head(node)
        self._show_dock(self.attention_dock, share=0.5)

    def _bottom_docks(self) -> tuple[QDockWidget, ...]:
        docks = (self.training_dock, self.pruning_dock, self.log_dock, self.attention_dock)
        return (*docks, self.training_run_dock)

    def show_training_run(self) -> None:
        self._show_dock(self.training_run_dock, share=0.3)

    def say(self, text: str, timeout_ms: int = 0) -> None:
        """A message in the status bar, kept in the Log too (once, while it stays shown)."""
        if text != self.statusBar().currentMessage():
            log.info(text)
        self.statusBar().showMessage(text, timeout_ms)

    def copy_as_python(self) -> None:
        """The view as a script on the core API (model, prompt, interventions, readout)."""
        script = self.session.python_script()
        if script is None:
            self.say("Open a model and type a prompt first", 5000)
            return
        QApplication.clipboard().setText(script)
        self.say("Copied a Python script that prints these outputs (paste it into a .py file)", 6000)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # ---- reacting to the session -----------------------------------------------------------

    def _on_graph_changed(self) -> None:
        s = self.session
        i = self.mode_box.findData(s.graph_mode if s.circuit is not None else "model")
        self.mode_box.setCurrentIndex(i)
        current = s.current
        self.graph.set_graph(
            s.graph,
            current.activations if current else None,
            current.position if current else 0,
            io=s.graph_io(),
            overlay=comparison_overlay(s.graph, s.comparison),
        )
        self._on_threshold(self.threshold.value())
        self._update_legend()
        self._on_interventions()
        self.graph.set_selection(s.selection)
        self.inspector.refresh_prompt()

    def _recolour(self) -> None:
        s = self.session
        if s.graph is None:
            return  # a new model's graph is still being laid out
        self.graph.set_activations(
            s.current.activations if s.current else None, s.current.position if s.current else 0
        )
        self.graph.set_io(s.graph_io())
        self._update_legend()
        self.inspector.refresh_prompt()

    def _on_interventions(self) -> None:
        ivs = self.session.interventions
        self.graph.set_ablations(
            {iv.target for iv in ivs if iv.kind == "node"},
            {iv.target for iv in ivs if iv.kind == "edge"},
            {iv.target for iv in ivs if iv.mode == "patch"},
        )
        n = len(ivs)
        self.say(f"{n} intervention{'s' if n != 1 else ''} active" if n else "Ready")

    def _on_threshold(self, value: int) -> None:
        g = self.session.graph
        top = float(abs(g.weight).max()) if g is not None and len(g.weight) else 0.0
        threshold = top * value / 100
        self.threshold_label.setText(f"edges ≥ {threshold:.3f}")
        self.graph.set_threshold(threshold)

    def _find(self) -> None:
        """A node by name, else the nodes whose label holds the text (any case)."""
        text = self.find_box.text().strip()
        g = self.session.graph
        if g is None or not text:
            return
        index = g.index()
        found = [text] if text in index else []
        if not found:
            wanted = text.casefold()
            found = [
                n
                for n, a in self.session.annotations.items()
                if n in index and wanted in a["label"].casefold()
            ]
        if not found:
            self.say(f"No node named or labelled {text!r} in the graph shown", 5000)
            return
        self.session.select(found)
        self.graph.show_node(found[0])
        if len(found) > 1:
            self.say(f"{len(found)} nodes labelled {text!r}: selected", 5000)

    def _ablate(self, kind: str, targets: list, mode: str) -> None:
        try:
            self.session.ablate(kind, targets, mode)
        except ValueError as e:  # a patch with no pair, or mean ablation of a model read as ids
            self.say(str(e)[:1].upper() + str(e)[1:], 8000)

    # ---- the ablation-effect overlay --------------------------------------------------------

    def _toggle_effects(self, overlay, action, on: bool) -> None:
        if not on:
            overlay.stop()
            return
        problem = overlay.start()
        if problem:
            self._check_effect_action(action, False)
            self.say(problem, 8000)

    @staticmethod
    def _check_effect_action(action, on: bool) -> None:
        action.blockSignals(True)
        action.setChecked(on)
        action.blockSignals(False)

    def _show_effects(self, overlay) -> None:
        """The overlay's effects (None: off) on the graph, and how many are in."""
        node = overlay.kind == "node"
        (self.graph.set_effects if node else self.graph.set_edge_effects)(overlay.effects, overlay.metric)
        label = self.effect_progress if node else self.edge_effect_progress
        on = overlay.effects is not None
        label.setText(f"{len(overlay.effects)}/{overlay.total} {overlay.kind}s" if on else "")

    def _update_legend(self) -> None:
        """What the graph's colours mean, under the graph (they change with the overlay)."""

        def swatch(rgb, text, line=False):
            shape = "━━" if line else "●"
            return f"<span style='color:rgb{rgb}'>{shape}</span>&nbsp;{text}"

        e, edge = self.effects, self.edge_effects
        mode = self.session.graph_mode if self.session.circuit is not None else None
        if self.session.comparison is not None:
            self.legend.setText(
                f"<small>Nodes and edges: {legend_html(self.session.comparison, swatch)} &nbsp; "
                f"╍╍ ablated &nbsp; ✕ ablated &nbsp; "
                f"<span style='color:rgb(255,170,0)'>◯</span> selected</small>"
            )
            return
        nodes = (
            f"ablation effect on the {e.metric} when the node alone is mean-ablated"
            if e.effects is not None
            else "activation at the chosen token, relative to the largest at its location"
        )
        if edge.effects is not None:
            edges = (
                f"ablation effect on the {edge.metric} when the edge alone is mean-ablated: "
                f"{swatch(POSITIVE, 'raises', True)} {swatch(NEGATIVE, 'lowers', True)} (wider: more) "
                f"{swatch(UNMEASURED, 'not yet', True)}"
            )
        else:
            edges = (
                f"{swatch(POSITIVE, 'positive weight', True)} &nbsp; "
                f"{swatch(NEGATIVE, 'negative weight', True)}"
            )
        self.legend.setText(
            f"<small>Edges: {edges} &nbsp; ╍╍ ablated &nbsp;·&nbsp; "
            f"Nodes: {nodes}: {swatch(NEGATIVE, '−')} {swatch((200, 200, 200), '0')} "
            f"{swatch(POSITIVE, '+')} &nbsp; ✕ ablated &nbsp; "
            f"<span style='color:rgb(255,170,0)'>◯</span> selected"
            f"{io_legend(self.graph.io_items.io, mode)}{GROUP_LEGEND if self.graph.detail else ''}</small>"
        )

    def _on_io_clicked(self, name: str) -> None:
        io = self.graph.io_items.io
        if io is not None and name in io.names:
            self.say(io_summary(io, name), 10000)

    def _on_effects_updated(self, overlay) -> None:
        self._update_legend()
        self._show_effects(overlay)

    def _on_effects_finished(self, overlay) -> None:
        what = "Node colour" if overlay.kind == "node" else "Edge colour and width"
        self.say(
            f"{what}: the change in the {overlay.metric} when the {overlay.kind} alone is "
            f"mean-ablated (red raises it, blue lowers it)"
        )

    def _on_effects_stopped(self, overlay, action, reason: str) -> None:
        self._check_effect_action(action, False)
        self._show_effects(overlay)
        self._update_legend()
        if reason:
            what = "Ablation effect" if overlay.kind == "node" else "Edge effect"
            self.say(f"{what} overlay off: {reason}", 5000)

    def _on_job_progress(self, text: str, done: int, total: int) -> None:
        self.job_bar.setRange(0, total)  # 0, 0: busy, length unknown
        self.job_bar.setValue(done)
        self.job_bar.show()
        self.say(f"{text} {done}/{total}" if total else text)

    def _on_job_done(self) -> None:
        self.job_bar.hide()
        self.say("Ready", 2000)

    def _update_status(self) -> None:
        s = self.session
        title = "Sparse Circuits"
        if s.bench is not None:
            title += f" — {s.model_name}"
            if s.circuit is not None:
                title += f" — {s.circuit.task}"
        self.setWindowTitle(title)

    # ---- help and layout --------------------------------------------------------------------

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About Sparse Circuits",
            "<b>Sparse Circuits</b><br>Train weight-sparse transformers, prune them "
            "to task circuits, and explore the circuits live.<br><br>Method: Gao et "
            "al. 2025, <i>Weight-sparse transformers have interpretable circuits</i>.",
        )

    def _fit_to_screen(self) -> None:
        """1500x900, or 90% of the screen's free area if that is smaller, centred."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            self.resize(1500, 900)
            return
        free = screen.availableGeometry()
        self.resize(min(1500, int(free.width() * 0.9)), min(900, int(free.height() * 0.9)))
        self.move(
            free.x() + (free.width() - self.width()) // 2, free.y() + (free.height() - self.height()) // 2
        )

    def _size_side_docks(self) -> None:
        """The inspector and the outputs take about a fifth and a quarter of the width, so the
        graph keeps half the window on any screen."""
        inspector, outputs, ivs = self._side_docks
        w, h = self.width(), self.height()
        self.resizeDocks([inspector, outputs], [int(w * 0.21), int(w * 0.27)], Qt.Horizontal)
        self.resizeDocks([outputs, ivs], [int(h * 0.62), int(h * 0.25)], Qt.Vertical)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._docks_sized:  # dock sizes only take once the window is laid out
            self._docks_sized = True
            QTimer.singleShot(0, self._size_side_docks)

    def _restore_layout(self) -> bool:
        """The saved window layout, if any and if it fits this screen; whether one was used."""
        geometry, state = self.settings.value("geometry"), self.settings.value("windowState")
        if geometry is None or state is None:
            return False
        self.restoreGeometry(geometry)
        self.restoreState(state)
        screen = self.screen() or QApplication.primaryScreen()
        if screen is not None and not screen.availableGeometry().contains(self.frameGeometry()):
            self._fit_to_screen()  # saved on a bigger screen than this one
            return False
        return True

    def start(self, ask=None) -> None:
        """What the window opens on at launch: the session a crash interrupted, if the user
        wants it back (`ask(question) -> bool`, a dialog by default), else the default model."""
        pending = self.autosave.pending()
        if pending is not None:
            question = (
                f"Sparse Circuits did not close properly last time. Bring back the session "
                f"you had (saved at {self.autosave.saved_at()})?"
            )
            ask = ask or (
                lambda q: QMessageBox.question(self, "Restore the last session?", q) == QMessageBox.Yes
            )
            if ask(question):
                self.files.open_workspace(str(pending))
                if self.session.bench is not None or self.session.busy:
                    return  # restored, or being restored
            self.autosave.discard()
        self.files.open_default()

    def reset_layout(self) -> None:
        """The docks as they are at first launch, and the window fitted to the screen."""
        self.restoreState(self._default_state)
        self._fit_to_screen()
        self._size_side_docks()

    def closeEvent(self, event) -> None:
        # Long work is cancelled between steps; a training run keeps its checkpoint.
        self.training.stop()
        self.pruning.stop()
        self.effects.shutdown()
        self.edge_effects.shutdown()
        self.head_attention.stop()
        self.sampler.stop()
        self.class_sampler.stop()
        self.session.stop_jobs()
        self.autosave.discard()  # a clean exit: nothing to restore next time
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        self.settings.sync()
        self.log_handler.uninstall()
        super().closeEvent(event)
