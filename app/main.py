"""Start the desktop app on the shipped default model and its quote circuit."""

from __future__ import annotations

import sys


def run_app(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from core.fileio import FileFormatError

    from .window import MainWindow

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Sparse Circuits")
    app.setOrganizationName("SparseCircuits")
    window = MainWindow()
    window.show()
    try:
        window.session.open_default()
    except (FileFormatError, ValueError, OSError) as e:
        QMessageBox.warning(window, "Could not open the default model",
                            f"{e}\n\nUse File ▸ Open checkpoint to open another model.")
    return app.exec()


if __name__ == "__main__":
    sys.exit(run_app())
