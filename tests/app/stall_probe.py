"""Run as a program: a fresh app process trains the tiny preset in its worker, then opens the
trained model (computing its means); prints the longest event-loop stalls of each, as JSON.
A process of its own, as a user's app is: a test suite's leftovers would be measured too."""

import json
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


class Stalls:
    def __init__(self):
        self.longest_ms, self.last = 0.0, time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self.tick)

    def tick(self):
        now = time.perf_counter()
        self.longest_ms = max(self.longest_ms, (now - self.last) * 1000)
        self.last = now

    def __enter__(self):
        self.last = time.perf_counter()
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.tick()
        self.timer.stop()


def wait(app, condition, timeout_s=300):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            sys.exit("timed out")
        app.processEvents()
        time.sleep(0.005)


def main(out: Path) -> None:
    import core.pipelines.training
    from app.window import MainWindow
    from core.data.corpus import generate_programs
    from core.data.sources import TrainingData, default_tokenizer
    from core.data.stream import TokenStream

    app = QApplication([])
    tokenizer = default_tokenizer()
    stream = TokenStream.from_documents(generate_programs(400, seed=1), tokenizer)
    core.pipelines.training.load_training_data = lambda corpus=None, tokenizer=None: TrainingData(
        stream, default_tokenizer(), "test corpus"
    )
    window = MainWindow()
    window.show()
    window.session.open_default()
    panel = window.training
    panel.preset.setCurrentText("tiny")
    panel.steps.setValue(25)
    panel.out.setText(str(out / "run"))
    with Stalls() as training:
        panel.start()
        wait(app, lambda: panel.start_button.isEnabled())
    s = window.session
    with Stalls() as opening:
        panel.open_button.click()
        wait(app, lambda: not (s.busy or s.scoring or s._graph_job.running() or s._predict_job.running()))
    assert s.bench.checkpoint.path == out / "run" / "checkpoint"
    print(json.dumps({"training_ms": training.longest_ms, "opening_ms": opening.longest_ms}))
    window.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(Path(tmp))
