"""The open document saved as a workspace a couple of seconds after each change, so that a
crash loses at most that much. A clean exit deletes the file: finding it at start-up means the
last session did not end cleanly, and the app offers to bring it back."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from .workspace import save_workspace

log = logging.getLogger(__name__)

FILE_NAME = "autosave.scws.json"


class Autosave(QObject):
    def __init__(self, window, delay_ms: int = 2000):
        super().__init__(window)
        self.window, self.session = window, window.session
        # Beside the settings file: the user's configuration folder (a test's own folder).
        self.path = Path(window.settings.fileName()).parent / FILE_NAME
        self.enabled = True  # off for a window that must not touch the user's session file
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.save_now)
        s = self.session
        for signal in (
            s.model_changed,
            s.circuit_changed,
            s.prompt_changed,
            s.position_changed,
            s.interventions_changed,
            s.selection_changed,
            s.graph_changed,
        ):
            signal.connect(self.timer.start)

    def pending(self) -> Path | None:
        """The workspace a session that did not end cleanly left behind, if any."""
        return self.path if self.path.is_file() else None

    def save_now(self) -> None:
        if not self.enabled or self.session.bench is None or self.session.busy:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            save_workspace(self.path, self.session.workspace(self.window.threshold.value()))
        except (OSError, ValueError) as e:  # never an error dialog for a background save
            log.warning("Could not autosave the workspace to %s: %s", self.path, e)

    def discard(self) -> None:
        """A clean exit, or the user declined to restore: nothing to offer next time."""
        self.timer.stop()
        if self.enabled:
            self.path.unlink(missing_ok=True)

    def saved_at(self) -> str:
        return time.strftime("%H:%M on %d %b", time.localtime(self.path.stat().st_mtime))
