"""The recent-files list behind File ▸ Open Recent: the last checkpoints, circuits and
workspaces opened or saved, newest first, kept in the app's QSettings."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QSettings

KINDS = ("checkpoint", "circuit", "workspace")
MAX_RECENT = 8
SETTINGS_KEY = "recentFiles"


class RecentFiles:
    def __init__(self, settings: QSettings, limit: int = MAX_RECENT):
        self.settings, self.limit = settings, limit

    def entries(self) -> list[tuple[str, str]]:
        """[(kind, absolute path)], newest first; anything unreadable in the settings is skipped."""
        try:
            items = json.loads(str(self.settings.value(SETTINGS_KEY, "[]")))
        except json.JSONDecodeError:
            return []
        if not isinstance(items, list):
            return []
        return [(item[0], item[1]) for item in items
                if isinstance(item, list) and len(item) == 2 and item[0] in KINDS
                and isinstance(item[1], str)]

    def add(self, kind: str, path) -> None:
        if kind not in KINDS:
            raise ValueError(f"recent file kind must be one of {KINDS}, got {kind!r}")
        path = os.path.abspath(path)
        self._write([(kind, path)] + [e for e in self.entries() if e[1] != path])

    def remove(self, path) -> None:
        path = os.path.abspath(path)
        self._write([e for e in self.entries() if e[1] != path])

    def prune_missing(self) -> list[str]:
        """Drop the entries whose file or folder is gone; returns their paths."""
        entries = self.entries()
        gone = [path for _, path in entries if not Path(path).exists()]
        if gone:
            self._write([e for e in entries if e[1] not in gone])
        return gone

    def clear(self) -> None:
        self._write([])

    def _write(self, entries: list[tuple[str, str]]) -> None:
        self.settings.setValue(SETTINGS_KEY, json.dumps([list(e) for e in entries[:self.limit]]))
        self.settings.sync()
