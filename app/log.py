"""The app's Python logging, delivered to the Log panel.

A logging.Handler that emits a Qt signal: emitting is thread-safe, and the queued connection to
a widget delivers the record on the GUI thread, so worker threads may log freely.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Signal

APP_LOGGER = "app"  # the parent of every app module's logging.getLogger(__name__)


class LogEmitter(QObject):
    record = Signal(str, str, str)  # time "HH:MM:SS", level name, message


class QtLogHandler(logging.Handler):
    def __init__(self, level: int = logging.INFO):
        super().__init__(level)
        self.emitter = LogEmitter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
            self.emitter.record.emit(stamp, record.levelname, self.format(record))
        except RuntimeError:  # the emitter was deleted with the window
            pass

    def install(self) -> "QtLogHandler":
        logger = logging.getLogger(APP_LOGGER)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def uninstall(self) -> None:
        logging.getLogger(APP_LOGGER).removeHandler(self)
