"""Where the app keeps its preferences (window layout, recent files).

An INI file in the user's configuration folder on every platform, so that
`QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, folder)` moves all of it (the tests
point it at a temporary folder); the names can be changed here too.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION = "SparseCircuits"
APPLICATION = "SparseCircuits"


def app_settings() -> QSettings:
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORGANIZATION, APPLICATION)
