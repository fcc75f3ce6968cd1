"""Prune the open model to a task circuit in a worker thread, and open the result."""

from __future__ import annotations

import logging
import time

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.checks import CheckProgress
from core.commands.progress import format_duration
from core.pipelines.events import CircuitReady, PruneEvent, Status
from core.pipelines.pruning import prune_and_check
from core.prune import PruneConfig
from core.tasks import BUILTIN_TASKS
from core.verdicts import CHECKS

from ..workers import start_worker
from .loss_vs_k import LossVsKPlot

log = logging.getLogger(__name__)
CHECK_LABELS = {c.key: c.label for c in CHECKS}


class PruningPanel(QWidget):
    circuit_ready = Signal(object)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.handle = None
        self.task = QComboBox()
        self.task.setToolTip("The current task, the same as in Outputs: changing one changes both")
        for task in BUILTIN_TASKS.values():
            self.task.addItem(task.name, task.name)
        self.task.activated.connect(lambda i: session.set_task(BUILTIN_TASKS[self.task.itemData(i)]))
        session.task_changed.connect(self._follow_task)
        self.target = QDoubleSpinBox()
        self.target.setRange(0.001, 0.69)
        self.target.setSingleStep(0.01)
        self.target.setDecimals(3)
        self.target.setValue(0.15)
        self.ablation = QComboBox()
        self.ablation.addItems(["mean", "zero"])
        self.steps = QSpinBox()
        self.steps.setRange(10, 100_000)
        self.steps.setValue(PruneConfig.steps)
        self.checks = QCheckBox("run the faithfulness checks afterwards")
        self.checks.setChecked(True)
        form = QFormLayout()
        form.addRow("Task", self.task)
        form.addRow("Target task loss", self.target)
        form.addRow("Ablation", self.ablation)
        form.addRow("Mask steps", self.steps)
        form.addRow("", self.checks)
        self.run_button = QPushButton("Prune")
        self.cancel_button = QPushButton("Cancel")
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.status = QLabel("Prunes the open model to the nodes a task needs.")
        self.status.setWordWrap(True)
        # Titles at 9 points: beside the outputs column, a laptop gives each plot ~200 px.
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setTitle("task loss while pruning", size="9pt")
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen(200, 80, 60, width=2))
        self.kept_plot = pg.PlotWidget()
        self.kept_plot.setTitle("nodes kept", size="9pt")
        self.kept_curve = self.kept_plot.plot(pen=pg.mkPen(60, 120, 200, width=2))
        self.loss_vs_k = LossVsKPlot()
        session.circuit_changed.connect(lambda: self.loss_vs_k.show_circuit(session.circuit))
        grid = QGridLayout(self)
        grid.addLayout(form, 0, 0)
        grid.addLayout(buttons, 1, 0)
        grid.addWidget(self.progress, 2, 0)
        grid.addWidget(self.status, 3, 0)
        grid.addWidget(self.loss_plot, 0, 1, 4, 1)
        grid.addWidget(self.kept_plot, 0, 2, 4, 1)
        grid.addWidget(self.loss_vs_k, 0, 3, 4, 1)
        for col, stretch in enumerate((2, 2, 2, 3)):
            grid.setColumnStretch(col, stretch)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)

    def _follow_task(self) -> None:
        task = self.session.task
        i = self.task.findData(task.name) if task is not None else -1
        if i >= 0:
            self.task.setCurrentIndex(i)

    def start(self) -> None:
        bench = self.session.bench
        if bench is None:
            QMessageBox.information(self, "No model", "Open a model first.")
            return
        task = BUILTIN_TASKS[self.task.currentData()]
        config = PruneConfig(
            target_loss=self.target.value(), ablation=self.ablation.currentText(), steps=self.steps.value()
        )
        self.xs, self.losses, self.kept = [], [], []
        with_checks = self.checks.isChecked()
        # One bar for the whole job: the masks, then (if asked for) the checks, which take
        # about as long again; each stage shows its own estimate of the time left.
        self.mask_share = 500 if with_checks else 1000
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.stage_start = time.monotonic()
        self.stage = "masks"
        self.failed = False
        self.handle = start_worker(
            lambda: prune_and_check(bench, task, config, 256, with_checks),
            self._on_item,
            self._on_error,
            self._on_finished,
        )
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Optimising masks for {task.name}…")
        log.info(
            "Pruning started: %s, target task loss %.3f, %s ablation, %d mask steps",
            task.name,
            config.target_loss,
            config.ablation,
            config.steps,
        )

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.worker.cancel()

    def stop(self, timeout_ms: int = 5000) -> bool:
        return self.handle.stop(timeout_ms) if self.handle is not None else True

    def _on_item(self, item) -> None:
        if isinstance(item, PruneEvent):
            if item.phase == "optimize":
                self.xs.append(item.step)
                self.losses.append(item.task_loss)
                self.kept.append(item.kept)
                self.loss_curve.setData(self.xs, self.losses)
                self.kept_curve.setData(self.xs, self.kept)
                self.progress.setValue(int(self.mask_share * item.step / item.total))
                self.status.setText(
                    f"Masks, step {item.step}/{item.total}: task loss "
                    f"{item.task_loss:.3f}, {item.kept} nodes kept"
                    f"{self._eta(item.step / item.total)}"
                )
            elif item.phase == "bisect":
                self.status.setText(
                    f"searching the smallest circuit: k={item.kept}, loss {item.task_loss:.3f}"
                )
            elif item.phase == "fixed_k":
                self.status.setText(
                    f"optimising a mask of exactly k={item.kept} nodes, step {item.step}/{item.total}: "
                    f"loss {item.task_loss:.3f}"
                )
        elif isinstance(item, CheckProgress):
            if self.stage != "checks":
                self.stage, self.stage_start = "checks", time.monotonic()
            self.progress.setValue(self.mask_share + int((1000 - self.mask_share) * item.overall))
            label = CHECK_LABELS.get(item.check, item.check)
            self.status.setText(
                f"Faithfulness checks, {item.done + 1}/{item.total}: {label}{self._eta(item.overall)}"
            )
        elif isinstance(item, Status):
            self.status.setText(item.text)
        elif isinstance(item, CircuitReady):
            c = item.circuit
            self.status.setText(
                f"{c.task}: {c.size_text(per_location=False)}; task loss "
                f"{c.loss_circuit:.3f} (target {c.target_loss}). Opened in the graph."
            )
            log.info(
                "Pruning finished: %s, %s; task loss %.3f",
                c.task,
                c.size_text(),
                c.loss_circuit,
            )
            self.circuit_ready.emit(c)

    def _eta(self, fraction: float) -> str:
        """', about N left' for the running stage, once there is something to go by."""
        elapsed = time.monotonic() - self.stage_start
        if fraction <= 0.02 or elapsed < 2 or fraction >= 1:
            return ""
        return f"; about {format_duration(elapsed / fraction * (1 - fraction))} left"

    def _on_error(self, message: str) -> None:
        self.failed = True
        log.error("Pruning failed: %s", message)
        QMessageBox.warning(self, "Pruning stopped", message.split("\n\n")[0])

    def _on_finished(self, completed: bool) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if not completed and not self.failed:
            self.status.setText("Cancelled.")
            log.info("Pruning cancelled")
        elif not completed:
            self.status.setText("Stopped by an error (see the Log).")
