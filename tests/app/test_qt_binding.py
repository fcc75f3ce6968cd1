"""The Qt binding itself: PySide6 6.12.0 leaked a reference to None per void call, which on
Python 3.11 aborts the app ("deallocating None") after a few thousand repaints."""

import sys

from PySide6.QtWidgets import QLabel


def test_void_qt_calls_keep_none_alive(qapp):
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(1000):
        label.setText("x")
        label.update()
        qapp.processEvents()
    assert sys.getrefcount(None) > before - 100
