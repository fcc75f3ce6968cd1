"""The recent-files list behind File ▸ Open Recent: the last checkpoints, circuits and
workspaces opened or saved, newest first, kept in the app's QSettings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, get_args

from pydantic import OnErrorOmit, TypeAdapter, ValidationError
from PySide6.QtCore import QSettings

Kind = Literal["checkpoint", "circuit", "workspace"]
KINDS = get_args(Kind)
MAX_RECENT = 8
SETTINGS_KEY = "recentFiles"

# The setting is a JSON list of [kind, path] pairs. An entry that does not fit is dropped, not
# reported: the list is the app's own memory, and losing an entry costs nothing.
_ENTRIES = TypeAdapter(list[OnErrorOmit[tuple[Kind, str]]])


class RecentFiles:
    def __init__(self, settings: QSettings, limit: int = MAX_RECENT):
        self.settings, self.limit = settings, limit

    def entries(self) -> list[tuple[str, str]]:
        """[(kind, absolute path)], newest first; anything unreadable in the settings is skipped."""
        try:
            return _ENTRIES.validate_json(str(self.settings.value(SETTINGS_KEY, "[]")), strict=True)
        except ValidationError:
            return []

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
        self.settings.setValue(SETTINGS_KEY, json.dumps([list(e) for e in entries[: self.limit]]))
        self.settings.sync()
