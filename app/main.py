"""Start the desktop app on the shipped default model and its quote circuit."""

from __future__ import annotations

import sys
import time


def run_app(
    argv: list[str] | None = None, screenshot: str | None = None, launched: float | None = None
) -> int:
    """The app. With `screenshot`, it saves the window as PNG once the default circuit shows
    and exits: proof that a build opens its window, and how long that takes from `launched`."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .window import MainWindow

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Sparse Circuits")
    app.setOrganizationName("SparseCircuits")
    window = MainWindow()
    window.show()
    if screenshot is None:
        window.start()
    else:  # a build's smoke test: the default model, and the user's session file untouched
        window.autosave.enabled = False
        window.files.open_default()
    if screenshot is None:
        return app.exec()
    saved = []

    def capture():
        if window.session.busy:  # the default model is still opening
            QTimer.singleShot(50, capture)
            return
        app.processEvents()
        saved.append(window.grab().save(screenshot))
        circuit = window.session.circuit
        elapsed = time.perf_counter() - (launched if launched is not None else time.perf_counter())
        print(
            f"window with the {circuit.task if circuit else 'no'} circuit shown {elapsed:.2f} s "
            f"after launch; {'saved' if saved[0] else 'could not write'} {screenshot}"
        )
        window.close()
        app.quit()

    QTimer.singleShot(200, capture)
    app.exec()
    return 0 if saved and saved[0] else 1


if __name__ == "__main__":
    sys.exit(run_app())
