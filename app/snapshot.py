"""`sparse-circuits --screenshot PNG`: open the app as a user would, and once the default
circuit is on screen save the window as PNG and exit. Shows that a build opens its window,
and how long that takes from launch."""

from __future__ import annotations

import sys
import time


def run_snapshot(path: str, launched: float) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Sparse Circuits")
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.session.open_default()
    result = []

    def capture():
        app.processEvents()
        ok = window.grab().save(path)
        result.append(ok)
        print(f"window with the {window.session.circuit.task if window.session.circuit else 'no'} "
              f"circuit shown {time.perf_counter() - launched:.2f} s after launch; "
              f"{'saved ' + path if ok else 'could not write ' + path}")
        window.close()
        app.quit()

    QTimer.singleShot(200, capture)
    app.exec()
    return 0 if result and result[0] else 1
