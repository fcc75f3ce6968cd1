"""`sparse-circuits --self-test`: proves an installed (or frozen) app works end to end.

It imports everything the app uses, trains a few steps in a worker thread on the best device,
opens the shipped default model, ablates an edge of its circuit and checks the output moved by
exactly what core computes, and renders the graph offscreen. It prints `self-test ok` and
returns 0, or prints `self-test failed: <reason>` and returns 1. What is trained and measured
comes from core.pipelines.selftest; the window, the worker thread and the drawing are the app's.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
import traceback


class SelfTestError(Exception):
    pass


def run_self_test() -> int:
    started = time.perf_counter()
    try:
        details = _run()
    except Exception as e:  # every failure becomes one line and a non-zero exit
        reason = str(e) if isinstance(e, SelfTestError) else f"{type(e).__name__}: {e}"
        print(f"self-test failed: {reason}", file=sys.stderr)
        if not isinstance(e, SelfTestError):
            traceback.print_exc(limit=4, file=sys.stderr)
        return 1
    details.append(f"{time.perf_counter() - started:.1f} s")
    print("; ".join(details), file=sys.stderr)
    print("self-test ok")
    return 0


def _run() -> list[str]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no screen is needed to test
    import networkx  # noqa: F401  (imported here so a bundle missing it fails loudly)
    import numpy  # noqa: F401
    import pyqtgraph  # noqa: F401
    import safetensors  # noqa: F401
    import tiktoken  # noqa: F401
    import tokenizers  # noqa: F401
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    # The offscreen platform warns about window hints it cannot honour; keep real errors only.
    qInstallMessageHandler(
        lambda kind, _context, message: (
            print(message, file=sys.stderr)
            if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)
            else None
        )
    )
    try:
        return _run_checks()
    finally:
        qInstallMessageHandler(None)


def _run_checks() -> list[str]:
    import torch
    from PySide6.QtWidgets import QApplication

    from core.device import describe, pick_device

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Sparse Circuits self-test")
    device = pick_device(None)
    details = [f"torch {torch.__version__} on {describe(device)}"]
    with tempfile.TemporaryDirectory(prefix="sparse-circuits-selftest-") as tmp:
        details.append(_train_in_worker(app, device, tmp))
        details.append(_open_ablate_render(app, f"{tmp}/settings.ini"))  # not the user's settings
    return details


def _train_in_worker(app, device, out: str) -> str:
    from core.pipelines.events import TrainEvent
    from core.pipelines.selftest import TRAIN_STEPS, self_test_training

    from .workers import GeneratorWorker, WorkerHandle

    worker = GeneratorWorker(lambda: self_test_training(out, str(device)), min_interval_s=0.0)
    losses, errors, done = [], [], []
    # Lambdas have no receiver, so they run on the worker's thread: they only record.
    worker.yielded.connect(
        lambda e: (
            losses.append(e.loss)
            if isinstance(e, TrainEvent) and e.kind in ("step", "checkpoint") and e.logged
            else None
        )
    )
    worker.errored.connect(errors.append)
    worker.finished.connect(done.append)
    handle = WorkerHandle(worker).start()
    deadline = time.monotonic() + 120
    while handle.running() and time.monotonic() < deadline:
        app.processEvents()
        handle.thread.wait(50)
    if not done:
        handle.stop()
        raise SelfTestError("training in a worker thread did not finish within 2 minutes")
    if errors:
        raise SelfTestError(f"training failed: {errors[0].splitlines()[0]}")
    if len(losses) < 2 or not all(map(math.isfinite, losses)):  # read at the first and last step
        raise SelfTestError(f"training gave losses {losses}, expected finite ones at its first and last step")
    return f"trained {TRAIN_STEPS} steps in a worker (loss {losses[0]:.2f} -> {losses[-1]:.2f})"


def _open_ablate_render(app, settings_file: str) -> str:
    from PySide6.QtCore import QSettings

    from core.pipelines.selftest import edge_ablation

    from .window import MainWindow

    window = MainWindow(settings=QSettings(settings_file, QSettings.IniFormat))
    window.resize(1200, 800)
    window.show()
    session = window.session
    session.open_default()
    app.processEvents()
    circuit = session.circuit
    if circuit is None or not circuit.edges:
        raise SelfTestError("the default model opened without its circuit")
    expected = edge_ablation(session.bench, circuit, session.ids, session.candidates, session.position)
    before = session.current.logit_diff
    session.ablate("edge", [expected.edge])
    app.processEvents()
    after = session.current.logit_diff
    for shown, computed in ((before, expected.before), (after, expected.after)):
        if abs(shown - computed) > 1e-5:
            raise SelfTestError(f"the app shows logit difference {shown}, core computes {computed}")
    if after == before:
        raise SelfTestError("ablating the circuit's strongest edge changed nothing")
    image = window.graph.grab().toImage()
    if image.isNull() or image.width() < 100:
        raise SelfTestError("the graph did not render")
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    if len(colours) < 3:
        raise SelfTestError("the graph rendered as a blank image")
    window.close()
    return (
        f"default model: {circuit.size_text(per_location=False)}; ablating "
        f"{expected.edge} moved the logit difference {before:+.3f} -> {after:+.3f}"
    )
