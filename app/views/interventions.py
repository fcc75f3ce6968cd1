"""The list of active interventions, with restore, restore-all, undo and redo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget


class InterventionsPanel(QWidget):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.ExtendedSelection)
        self.restore_button = QPushButton("Restore selected")
        self.clear_button = QPushButton("Restore all")
        undo = QPushButton("Undo")
        redo = QPushButton("Redo")
        undo.clicked.connect(session.undo_stack.undo)
        redo.clicked.connect(session.undo_stack.redo)
        session.undo_stack.canUndoChanged.connect(undo.setEnabled)
        session.undo_stack.canRedoChanged.connect(redo.setEnabled)
        undo.setEnabled(False)
        redo.setEnabled(False)
        buttons = QGridLayout()  # two rows: the panel stays narrow on a laptop
        for i, b in enumerate((self.restore_button, self.clear_button, undo, redo)):
            buttons.addWidget(b, i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.restore_button.clicked.connect(self._restore_selected)
        self.clear_button.clicked.connect(session.clear_interventions)
        session.interventions_changed.connect(self.refresh)
        session.model_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for iv in self.session.interventions:
            item = QListWidgetItem(f"{iv.kind}  {iv.target}  ({iv.mode})")
            item.setData(Qt.UserRole, iv.target)
            self.list.addItem(item)
        if not self.session.interventions:
            placeholder = QListWidgetItem("No interventions: right-click a node or edge to ablate it.")
            placeholder.setFlags(Qt.NoItemFlags)
            self.list.addItem(placeholder)
        has = bool(self.session.interventions)
        self.restore_button.setEnabled(has)
        self.clear_button.setEnabled(has)

    def _restore_selected(self) -> None:
        targets = [i.data(Qt.UserRole) for i in self.list.selectedItems() if i.data(Qt.UserRole)]
        if targets:
            self.session.restore(targets)
