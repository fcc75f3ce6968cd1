"""Train a model in a worker thread: settings, start/pause/cancel, live curves and weights."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.pipelines.events import Finished, Status, TrainEvent, TrainingStarted, WeightsSnapshot
from core.pipelines.training import TrainingSpec, run_state, training
from core.presets import PRESETS
from core.train import CHECKPOINT_DIR

from ..workers import start_worker

log = logging.getLogger(__name__)


def default_runs_dir() -> Path:
    return Path.home() / "SparseCircuits" / "runs"


def available_devices() -> list[tuple[str, str]]:
    devices = [("auto", "Best available"), ("cpu", "CPU")]
    if torch.cuda.is_available():
        devices.append(("cuda", f"GPU: {torch.cuda.get_device_name(0)}"))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append(("mps", "Apple GPU (MPS)"))
    return devices


def format_eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class TrainingPanel(QWidget):
    model_ready = Signal(str)  # checkpoint folder of a finished run

    def __init__(self, parent=None):
        super().__init__(parent)
        self.handle = None
        self.preset = QComboBox()
        for name in PRESETS:
            self.preset.addItem(name)
        self.steps = QSpinBox()
        self.steps.setRange(1, 10_000_000)
        self.device = QComboBox()
        for key, label in available_devices():
            self.device.addItem(label, key)
        self.corpus = QLineEdit()
        self.corpus.setPlaceholderText("the embedded corpus (or choose a folder of .py files)")
        corpus_button = QPushButton("Choose…")
        corpus_button.clicked.connect(self._choose_corpus)
        corpus_row = QHBoxLayout()
        corpus_row.addWidget(self.corpus, 1)
        corpus_row.addWidget(corpus_button)
        self.out = QLineEdit()
        form = QFormLayout()
        form.addRow("Preset", self.preset)
        form.addRow("Steps", self.steps)
        form.addRow("Device", self.device)
        form.addRow("Corpus", corpus_row)
        form.addRow("Run folder", self.out)
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.resume_button = QPushButton("Resume run")
        self.resume_button.setToolTip(
            "Continue the run in the run folder from its last "
            "checkpoint, with the losses an unbroken run would have had"
        )
        self.open_button = QPushButton("Open the trained model")
        self.open_button.setToolTip("Open the run folder's last checkpoint in the graph")
        buttons = QHBoxLayout()
        for b in (
            self.start_button,
            self.pause_button,
            self.cancel_button,
            self.resume_button,
            self.open_button,
        ):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.status = QLabel("Pick a preset and press Start.")
        self.status.setWordWrap(True)
        self.loss_plot = pg.PlotWidget(title="training loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen(200, 80, 60, width=2))
        self.l0_plot = pg.PlotWidget(title="kept fraction of weights (L0)")
        self.l0_plot.setLabel("bottom", "step")
        self.l0_curve = self.l0_plot.plot(pen=pg.mkPen(60, 120, 200, width=2))
        self.weights_view = pg.PlotWidget(title="layer 0 MLP input weights (nonzero shown dark)")
        self.weights_view.hideAxis("left")
        self.weights_view.hideAxis("bottom")
        self.weights_image = pg.ImageItem()
        self.weights_view.addItem(self.weights_image)
        grid = QGridLayout(self)
        grid.addLayout(form, 0, 0)
        grid.addLayout(buttons, 1, 0)
        grid.addWidget(self.progress, 2, 0)
        grid.addWidget(self.status, 3, 0)
        grid.addWidget(self.loss_plot, 0, 1, 4, 1)
        grid.addWidget(self.l0_plot, 0, 2, 4, 1)
        grid.addWidget(self.weights_view, 0, 3, 4, 1)
        for col, stretch in enumerate((2, 3, 3, 2)):
            grid.setColumnStretch(col, stretch)
        self.preset.currentTextChanged.connect(self._on_preset)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(self.resume)
        self.open_button.clicked.connect(self._open_checkpoint)
        self.out.textChanged.connect(self._update_run_buttons)
        self.auto_out = ""  # the folder we proposed; a typed one is kept
        self.finished_checkpoint = ""
        self._on_preset(self.preset.currentText())
        self._set_running(False)

    def _on_preset(self, name: str) -> None:
        self.steps.setValue(PRESETS[name][1]["steps"])
        if self.out.text() in ("", self.auto_out):
            self._propose_folder()

    def _propose_folder(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.auto_out = str(default_runs_dir() / f"{self.preset.currentText()}-{stamp}")
        self.out.setText(self.auto_out)

    def run_folder(self) -> Path:
        return Path(self.out.text().strip()).expanduser()

    def checkpoint(self) -> Path | None:
        """The run folder's checkpoint, if it has one."""
        folder = self.run_folder() / CHECKPOINT_DIR
        return folder if (folder / "config.json").is_file() else None

    def _update_run_buttons(self) -> None:
        idle = self.start_button.isEnabled()  # no run going on
        has = self.checkpoint() is not None
        self.open_button.setEnabled(idle and has)
        self.resume_button.setEnabled(idle and has and run_state(self.run_folder()) is not None)

    def _open_checkpoint(self) -> None:
        if self.checkpoint() is not None:
            self.model_ready.emit(str(self.checkpoint()))

    def _choose_corpus(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of Python files to train on")
        if folder:
            self.corpus.setText(folder)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        for w in (self.preset, self.steps, self.device, self.corpus, self.out):
            w.setEnabled(not running)
        if running:
            self.open_button.setEnabled(False)
            self.resume_button.setEnabled(False)
        else:
            self._update_run_buttons()

    def start(self) -> None:
        out = self.run_folder()
        if out.exists() and any(out.iterdir()):
            hint = " or press Resume run to continue it" if self.resume_button.isEnabled() else ""
            QMessageBox.warning(
                self, "Run folder in use", f"{out} already holds files. Choose another run folder{hint}."
            )
            return
        device = self.device.currentData()
        corpus = self.corpus.text().strip() or None
        preset_name, steps = self.preset.currentText(), self.steps.value()
        spec = TrainingSpec(
            out, preset_name, steps, device=None if device == "auto" else device, corpus=corpus
        )
        self._run(spec, steps)
        log.info(
            "Training started: preset %s, %s steps, corpus %s, run folder %s",
            preset_name,
            f"{steps:,}",
            corpus or "embedded",
            out,
        )

    def resume(self) -> None:
        out = self.run_folder()
        state = run_state(out)
        if state is None:
            QMessageBox.warning(self, "Nothing to resume", f"{out} holds no checkpoint to resume.")
            return
        device = self.device.currentData()
        spec = TrainingSpec(out, device=None if device == "auto" else device, resume=True)
        self._run(spec, state["train_config"]["steps"])
        log.info("Training resumed: %s from step %s", out, f"{state['step']:,}")

    def _run(self, spec: TrainingSpec, steps: int) -> None:
        self.steps_x, self.loss_y, self.l0_y = [], [], []
        self.t0 = time.monotonic()
        self.progress.setRange(0, steps)
        self.progress.setValue(0)
        self.handle = start_worker(lambda: _training(spec), self._on_item, self._on_error, self._on_finished)
        self.pause_button.setText("Pause")
        self._set_running(True)

    def toggle_pause(self) -> None:
        if self.handle is None:
            return
        paused = not self.handle.worker.paused
        self.handle.worker.pause(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self.status.setText(self.status.text() + " — paused")

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.worker.cancel()
            self.status.setText("Cancelling… (the run keeps a checkpoint to resume from)")

    def stop(self, timeout_ms: int = 5000) -> bool:
        return self.handle.stop(timeout_ms) if self.handle is not None else True

    def _on_item(self, item) -> None:
        if isinstance(item, TrainEvent):
            if item.logged:  # the steps in between carry the last measured loss
                self.steps_x.append(item.step)
                self.loss_y.append(item.loss)
                self.l0_y.append(item.l0_frac)
                self.loss_curve.setData(self.steps_x, self.loss_y)
                self.l0_curve.setData(self.steps_x, self.l0_y)
            self.progress.setValue(item.step)
            if item.logged and len(self.steps_x) == 1:
                self.t0, self.first_step = time.monotonic(), item.step
            done = item.step - self.first_step
            eta = (time.monotonic() - self.t0) / done * (item.total_steps - item.step) if done else 0
            self.status.setText(
                f"step {item.step:,}/{item.total_steps:,} · loss {item.loss:.3f} · "
                f"L0 {item.l0_frac:.3f} · {item.tokens_per_s:,.0f} tokens/s on "
                f"{item.device} · ETA {format_eta(eta)}"
            )
        elif isinstance(item, Status):
            self.status.setText(item.text)
        elif isinstance(item, TrainingStarted):
            self.status.setText(f"{item.n_params:,} parameters on {item.device}; {item.data}")
        elif isinstance(item, WeightsSnapshot):
            w = item.array
            self.weights_image.setImage(
                np.where(w > 0, 1.0, 0.0).T,
                levels=(0, 1),
                lut=np.array([[255, 255, 255], [30, 30, 30]], dtype=np.uint8),
            )
        elif isinstance(item, Finished):
            self.finished_checkpoint = item.path
        if isinstance(item, TrainingStarted):
            self.progress.setRange(0, item.total_steps)
            self.progress.setValue(item.start_step)

    def _on_error(self, message: str) -> None:
        log.error("Training failed: %s", message)
        QMessageBox.warning(self, "Training stopped", message.split("\n\n")[0])

    def _on_finished(self, completed: bool) -> None:
        self._set_running(False)
        if completed:
            self.status.setText(self.status.text().split(" · ETA")[0] + " · done")
            log.info("Training finished: %s", self.finished_checkpoint or "no checkpoint")
        elif self.steps_x:
            kept = (
                "keeps a checkpoint: Resume run continues it, Open the trained model opens it"
                if self.checkpoint() is not None
                else "has no checkpoint yet"
            )
            self.status.setText(f"Stopped at step {self.steps_x[-1]:,}; the run folder {kept}.")
            log.info("Training stopped at step %s", f"{self.steps_x[-1]:,}")
        else:
            log.info("Training stopped before its first step")


def _training(spec: TrainingSpec):
    yield from training(spec, snapshot_every=100)
