"""Look and feel shared by every view."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


def is_dark() -> bool:
    app = QApplication.instance()
    return app is not None and app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def configure_plots() -> None:
    """Plots follow the system's light or dark scheme."""
    dark = is_dark()
    pg.setConfigOptions(
        background="#1e1e1e" if dark else "w", foreground="#dddddd" if dark else "k", antialias=False
    )
