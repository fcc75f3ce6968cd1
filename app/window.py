"""The main window: the graph in the middle, outputs and interventions on the right, the node
inspector on the left; menus for files, editing and views."""

from __future__ import annotations


from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QHBoxLayout, QLabel,
                               QLineEdit, QMainWindow, QMessageBox, QPushButton, QSlider,
                               QVBoxLayout, QWidget)

from core.fileio import FileFormatError

from .session import Session
from .style import configure_plots
from .views.graph import GraphView
from .views.inspector import NodeInspector
from .views.interventions import InterventionsPanel
from .views.outputs import OutputsPanel
from .views.pruning import PruningPanel
from .views.training import TrainingPanel

GRAPH_MODES = [("circuit", "Circuit"), ("neighbours", "Circuit + neighbours"),
               ("model", "Whole model")]


class CircuitSummary(QLabel):
    """The circuit's size, losses and faithfulness checks, always beside the graph."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setTextFormat(Qt.RichText)
        self.setWordWrap(True)
        session.circuit_changed.connect(self.refresh)
        session.model_changed.connect(self.refresh)

    def refresh(self) -> None:
        c = self.session.circuit
        if c is None:
            self.setText("<i>No circuit open: the whole model is shown.</i>")
            return
        text = (f"<b>{c.task}</b>: {c.n_nodes} nodes, {c.n_edges} edges; task loss "
                f"{c.loss_circuit:.3f} (full model {c.loss_full:.3f}, target {c.target_loss}); "
                f"{c.ablation} ablation")
        if c.checks:
            k = c.checks
            text += (f"<br>checks: held-out {k['heldout_loss']:.3f} · necessity "
                     f"{k['necessity_loss']:.3f} · random circuits {k['random_circuit_loss_mean']:.3f}"
                     f" ± {k['random_circuit_loss_std']:.3f} · zero ablation "
                     f"{k['zero_ablation_loss']:.3f} · re-initialised control "
                     f"{k['reinit_control_loss']:.3f}")
        else:
            text += "<br><i>No faithfulness checks recorded for this circuit.</i>"
        self.setText(text)


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None):
        super().__init__()
        configure_plots()
        self.session = session or Session(self)
        self.setWindowTitle("Sparse Circuits")
        self.graph = GraphView()
        self.summary = CircuitSummary(self.session)
        self.mode_box = QComboBox()
        for key, label in GRAPH_MODES:
            self.mode_box.addItem(label, key)
        self.threshold = QSlider(Qt.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setMinimumWidth(160)
        self.threshold.setToolTip("Hide edges whose |weight| is below this share of the largest")
        self.threshold_label = QLabel("edges ≥ 0")
        self.find_box = QLineEdit()
        self.find_box.setPlaceholderText("Find node, e.g. 0.mlp.post_act.12")
        self.find_box.setMinimumWidth(220)
        fit = QPushButton("Fit")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("View"))
        bar.addWidget(self.mode_box)
        bar.addSpacing(12)
        bar.addWidget(self.threshold_label)
        bar.addWidget(self.threshold, 1)
        bar.addSpacing(12)
        bar.addWidget(self.find_box, 1)
        bar.addWidget(fit)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.summary)
        layout.addLayout(bar)
        layout.addWidget(self.graph, 1)
        self.setCentralWidget(central)

        self.outputs = OutputsPanel(self.session)
        self.interventions = InterventionsPanel(self.session)
        self.inspector = NodeInspector(self.session, self.session.corpus_sample)
        self.inspector.setMinimumWidth(340)
        outputs = self._dock("Outputs", self.outputs, Qt.RightDockWidgetArea)
        ivs = self._dock("Interventions", self.interventions, Qt.RightDockWidgetArea)
        inspector = self._dock("Node inspector", self.inspector, Qt.LeftDockWidgetArea)
        self.training = TrainingPanel()
        self.pruning = PruningPanel(self.session)
        self.training_dock = self._dock("Training", self.training, Qt.BottomDockWidgetArea)
        self.pruning_dock = self._dock("Pruning", self.pruning, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(self.training_dock, self.pruning_dock)
        self.training_dock.hide()
        self.pruning_dock.hide()
        self.training.model_ready.connect(
            lambda path: self._guard("open the trained model", self.session.open_model, path))
        self.pruning.circuit_ready.connect(self.session.set_circuit)
        self.resizeDocks([inspector, outputs], [380, 440], Qt.Horizontal)
        self.resizeDocks([outputs, ivs], [560, 200], Qt.Vertical)
        self._build_menus()
        self.statusBar().showMessage("Ready")

        s = self.session
        s.graph_changed.connect(self._on_graph_changed)
        s.predictions_changed.connect(self._recolour)
        s.interventions_changed.connect(self._on_interventions)
        s.selection_changed.connect(lambda: self.graph.set_selection(s.selection))
        s.model_changed.connect(self._update_status)
        s.circuit_changed.connect(self._update_status)
        self.graph.node_clicked.connect(lambda node, add: s.select([node], add))
        self.graph.ablate_requested.connect(lambda kind, targets, mode: s.ablate(kind, targets, mode))
        self.graph.restore_requested.connect(s.restore)
        self.inspector.node_link.connect(lambda node: s.select([node]))
        self.mode_box.activated.connect(lambda i: s.set_graph_mode(self.mode_box.itemData(i)))
        self.threshold.valueChanged.connect(self._on_threshold)
        self.find_box.returnPressed.connect(self._find)
        fit.clicked.connect(self.graph.fit)
        self.resize(1500, 900)
        self._restore_layout()

    def _dock(self, title, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        s = self.session
        file = self.menuBar().addMenu("&File")
        self._action(file, "&Open checkpoint…", self.open_checkpoint, QKeySequence.Open)
        self._action(file, "Open &circuit…", self.open_circuit, "Ctrl+Shift+O")
        self._action(file, "Open the &default model", self.open_default)
        file.addSeparator()
        self._action(file, "Export circuit as &JSON…", self.export_circuit, "Ctrl+E")
        self._action(file, "Export graph as &PNG…", lambda: self.export_graph("png"))
        self._action(file, "Export graph as &SVG…", lambda: self.export_graph("svg"))
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
        self._action(edit, "Ablate selection (mean)",
                     lambda: s.selection and s.ablate("node", s.selection, "mean"), "Ctrl+D")
        self._action(edit, "Restore &all", s.clear_interventions, "Ctrl+Shift+R")
        model = self.menuBar().addMenu("&Model")
        self._action(model, "&Train a new model…", lambda: self._show_dock(self.training_dock), "Ctrl+T")
        self._action(model, "&Prune a circuit…", lambda: self._show_dock(self.pruning_dock), "Ctrl+P")
        view = self.menuBar().addMenu("&View")
        self._action(view, "&Fit graph", self.graph.fit, "Ctrl+0")
        for dock in self.findChildren(QDockWidget):
            view.addAction(dock.toggleViewAction())
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About Sparse Circuits", self.about)

    def _show_dock(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()

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
        self.graph.set_graph(s.graph)
        self._on_threshold(self.threshold.value())
        self._on_interventions()
        self.graph.set_selection(s.selection)
        self._recolour()

    def _recolour(self) -> None:
        s = self.session
        self.graph.set_activations(s.current.activations if s.current else None,
                                   s.current.position if s.current else 0)
        self.inspector.refresh_prompt()

    def _on_interventions(self) -> None:
        ivs = self.session.interventions
        self.graph.set_ablations({iv.target for iv in ivs if iv.kind == "node"},
                                 {iv.target for iv in ivs if iv.kind == "edge"})
        n = len(ivs)
        self.statusBar().showMessage(f"{n} intervention{'s' if n != 1 else ''} active" if n else "Ready")

    def _on_threshold(self, value: int) -> None:
        g = self.session.graph
        top = float(abs(g.weight).max()) if g is not None and len(g.weight) else 0.0
        threshold = top * value / 100
        self.threshold_label.setText(f"edges ≥ {threshold:.3f}")
        self.graph.set_threshold(threshold)

    def _find(self) -> None:
        name = self.find_box.text().strip()
        g = self.session.graph
        if g is not None and name in g.index():
            self.session.select([name])
            x, y = g.pos[g.index()[name]]
            self.graph.getViewBox().setRange(xRange=(x - 0.15, x + 0.15), yRange=(y - 1.5, y + 1.5))
        else:
            self.statusBar().showMessage(f"No node {name!r} in the graph shown", 5000)

    def _update_status(self) -> None:
        s = self.session
        title = "Sparse Circuits"
        if s.bench is not None:
            title += f" — {s.model_name}"
            if s.circuit is not None:
                title += f" — {s.circuit.task}"
        self.setWindowTitle(title)

    # ---- files -----------------------------------------------------------------------------

    def _guard(self, what: str, fn, *args) -> bool:
        try:
            fn(*args)
            return True
        except (FileFormatError, ValueError, OSError) as e:
            QMessageBox.warning(self, f"Could not {what}", f"{e}\n\nNothing was changed.")
            return False

    def open_default(self) -> None:
        self._guard("open the default model", self.session.open_default)

    def open_checkpoint(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a checkpoint folder (ours or OpenAI's)")
        if folder:
            self._guard("open the checkpoint", self.session.open_model, folder)

    def open_circuit(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a circuit", "", "Circuit (*.json)")
        if path:
            self._guard("open the circuit", self.session.open_circuit, path)

    def export_circuit(self) -> None:
        if self.session.circuit is None:
            QMessageBox.information(self, "No circuit", "Open or prune a circuit first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export circuit", "circuit.json", "JSON (*.json)")
        if path:
            self._guard("export the circuit", self.session.circuit.save, path)

    def export_graph(self, fmt: str) -> None:
        from pyqtgraph.exporters import ImageExporter, SVGExporter
        path, _ = QFileDialog.getSaveFileName(self, "Export graph", f"graph.{fmt}", f"{fmt.upper()} (*.{fmt})")
        if path:
            exporter = (ImageExporter if fmt == "png" else SVGExporter)(self.graph.getPlotItem())
            self._guard("export the graph", exporter.export, path)

    def about(self) -> None:
        QMessageBox.about(self, "About Sparse Circuits",
                          "<b>Sparse Circuits</b><br>Train weight-sparse transformers, prune them "
                          "to task circuits, and explore the circuits live.<br><br>Method: Gao et "
                          "al. 2025, <i>Weight-sparse transformers have interpretable circuits</i>.")

    # ---- layout persistence ----------------------------------------------------------------

    def _restore_layout(self) -> None:
        settings = QSettings("SparseCircuits", "SparseCircuits")
        geometry, state = settings.value("geometry"), settings.value("windowState")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event) -> None:
        # Long work is cancelled between steps; a training run keeps its checkpoint.
        self.training.stop()
        self.pruning.stop()
        settings = QSettings("SparseCircuits", "SparseCircuits")
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("windowState", self.saveState())
        super().closeEvent(event)
