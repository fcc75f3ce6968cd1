"""A node's label and note, edited in the inspector and kept by the session (saved in the
workspace, carried in exported circuits). Typing is committed after a pause, and at once
when another node is shown."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFormLayout, QLineEdit, QPlainTextEdit, QWidget

from ..workspace import MAX_LABEL, MAX_NOTE


class AnnotationEditor(QWidget):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.node: str | None = None
        self.label = QLineEdit()
        self.label.setMaxLength(MAX_LABEL)
        self.label.setPlaceholderText("name it, e.g. “open quote is '”")
        self.note = QPlainTextEdit()
        self.note.setPlaceholderText("what it does, how you found out")
        self.note.setMaximumHeight(56)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Label", self.label)
        form.addRow("Note", self.note)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(500)
        self.timer.timeout.connect(self.commit)
        self.label.textEdited.connect(lambda _: self.timer.start())
        self.label.editingFinished.connect(self.commit)
        self.note.textChanged.connect(self._on_note_changed)
        session.annotations_changed.connect(self._reload)
        self.setVisible(False)

    def show_node(self, node: str | None) -> None:
        self.commit()
        self.node = node
        self.setVisible(node is not None)
        self._reload()

    def _reload(self) -> None:
        if self.timer.isActive():  # the user is typing: their text wins
            return
        a = self.session.annotations.get(self.node, {}) if self.node else {}
        for widget, text in ((self.label, a.get("label", "")), (self.note, a.get("note", ""))):
            widget.blockSignals(True)
            if isinstance(widget, QLineEdit):
                widget.setText(text)
            elif widget.toPlainText() != text:
                widget.setPlainText(text)
            widget.blockSignals(False)

    def _on_note_changed(self) -> None:
        if len(self.note.toPlainText()) > MAX_NOTE:
            self.note.setPlainText(self.note.toPlainText()[:MAX_NOTE])
        self.timer.start()

    def commit(self) -> None:
        self.timer.stop()
        if self.node is not None:
            self.session.annotate(self.node, self.label.text(), self.note.toPlainText())
