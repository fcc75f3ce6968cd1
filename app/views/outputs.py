"""The prompt, and what the model predicts for it: unmodified and with the interventions,
side by side, with deltas. Clicking a token picks the position the graph shows."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .examples import ExamplesPanel
from .text import visible


def _unescape(text: str) -> str:
    """`\\n`, `\\t` and `\\\\` typed in a field, as the characters they stand for."""
    return text.replace("\\\\", "\0").replace("\\n", "\n").replace("\\t", "\t").replace("\0", "\\")


class TokenStrip(QLabel):
    """The prompt's tokens as links; the chosen position is highlighted."""

    position_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTextFormat(Qt.RichText)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.LinksAccessibleByMouse)
        self.linkActivated.connect(lambda href: self.position_clicked.emit(int(href)))

    def set_tokens(self, tokens: list[str], position: int) -> None:
        ink = self.palette().color(QPalette.WindowText).name()  # not the link colour
        parts = []
        for i, tok in enumerate(tokens):
            text = html.escape(visible(tok))
            style = (
                "background:#ffcf70;color:#000;font-weight:bold;"
                if i == position
                else f"color:{ink};text-decoration:none;"
            )
            parts.append(f'<a href="{i}" style="{style}">{text}</a>')
        self.setText('<span style="font-family:monospace">' + "&#8203;|".join(parts) + "</span>")


class OutputsPanel(QWidget):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.task_box = QComboBox()
        self.task_box.setToolTip("Pick a task example as the prompt")
        # Task descriptions are long: never let them set the panel's (and window's) width.
        self.task_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.task_box.setMinimumContentsLength(16)
        self.prompt_edit = QLineEdit()
        self.prompt_edit.setPlaceholderText("Type a prompt and press Enter")
        self.tokens = TokenStrip()
        self.candidates = QLabel()
        self.candidates.setTextFormat(Qt.RichText)
        self.candidates.setWordWrap(True)
        self.correct_edit, self.incorrect_edit = QLineEdit(), QLineEdit()
        for edit, what in ((self.correct_edit, "correct"), (self.incorrect_edit, "incorrect")):
            edit.setPlaceholderText(what)
            edit.setToolTip(
                f"The {what} next token for this prompt, as the model spells it (a leading space "
                "counts); press Enter to compare the two"
            )
            edit.returnPressed.connect(self._on_candidates_typed)
        self.candidate_error = QLabel()
        self.candidate_error.setWordWrap(True)
        self.candidate_error.setStyleSheet("color: #c0392b")
        self.candidate_error.hide()
        self.table = QTableWidget(10, 4)
        self.table.setHorizontalHeaderLabels(["next token", "model", "intervened", "change"])
        self.table.horizontalHeaderItem(2).setToolTip("With the interventions: ablations and patches")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        form = QFormLayout()
        form.addRow("Task", self.task_box)
        form.addRow("Prompt", self.prompt_edit)
        pair = QHBoxLayout()
        pair.addWidget(self.correct_edit)
        pair.addWidget(QLabel("vs"))
        pair.addWidget(self.incorrect_edit)
        form.addRow("Candidates", pair)
        form.addRow("", self.candidate_error)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        row = QHBoxLayout()
        row.addWidget(QLabel("Tokens (click one to inspect it):"))
        row.addStretch()
        layout.addLayout(row)
        layout.addWidget(self.tokens)
        layout.addWidget(self.candidates)
        # The next-token table and the task's examples share the panel's lower half.
        self.examples = ExamplesPanel(session)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Next token")
        self.tabs.addTab(self.examples, "Task examples")
        self.tabs.setTabToolTip(1, "The task's held-out examples, scored with and without the interventions")
        layout.addWidget(self.tabs, 1)

        self.prompt_edit.returnPressed.connect(lambda: session.set_prompt(self.prompt_edit.text()))
        self.task_box.activated.connect(self._on_task_chosen)
        self.tokens.position_clicked.connect(session.set_position)
        session.model_changed.connect(self._fill_tasks)
        session.prompt_changed.connect(self._on_prompt_changed)
        session.position_changed.connect(self._on_prompt_changed)
        session.predictions_changed.connect(self._on_predictions)
        self._fill_tasks()

    def _fill_tasks(self) -> None:
        from core.tasks import BUILTIN_TASKS

        self.task_box.blockSignals(True)
        self.task_box.clear()
        for task in BUILTIN_TASKS.values():
            self.task_box.addItem(f"{task.name}: {task.description}", task.name)
        self.task_box.blockSignals(False)
        reads_text = self.session.bench is None or self.session.bench.reads_text
        self.task_box.setEnabled(reads_text)
        self.task_box.setToolTip(
            "Pick a task example as the prompt"
            if reads_text
            else "Off: the tasks' examples are text, and this model is read as token ids"
        )

    def _on_task_chosen(self, row: int) -> None:
        from core.tasks import BUILTIN_TASKS

        self.session.set_task(BUILTIN_TASKS[self.task_box.itemData(row)])

    def _on_prompt_changed(self) -> None:
        s = self.session
        self.prompt_edit.blockSignals(True)
        self.prompt_edit.setText(s.prompt)
        self.prompt_edit.blockSignals(False)
        if s.task is not None:
            i = self.task_box.findData(s.task.name)
            if i >= 0:
                self.task_box.setCurrentIndex(i)
        self.tokens.set_tokens(s.tokens() if s.bench else [], s.position)
        pair = s.candidates or ("", "")
        for edit, text in zip((self.correct_edit, self.incorrect_edit), pair):
            edit.setText(repr(text)[1:-1] if text.strip() != text else text)
        self.candidate_error.hide()

    def _on_candidates_typed(self) -> None:
        """Candidates are typed as Python string contents: `\\n` is a newline, a leading
        space is kept."""
        texts = [_unescape(e.text()) for e in (self.correct_edit, self.incorrect_edit)]
        if not all(texts):
            return  # the other one is still to be typed
        try:
            self.session.set_candidates(*texts)
        except ValueError as e:
            self.candidate_error.setText(str(e))
            self.candidate_error.show()

    def _on_predictions(self) -> None:
        s = self.session
        base, now = s.baseline, s.current
        self.table.clearContents()
        if base is None:
            self.candidates.setText("")
            return
        ids = [t for t, _, _ in now.top]
        ids += [t for t, _, _ in base.top if t not in ids]
        ids = sorted(ids, key=lambda t: -now.probs[t])[:10]
        for row, token in enumerate(ids):
            text = s.bench.tokenizer.token_text(token)
            before, after = float(base.probs[token]), float(now.probs[token])
            cells = [
                repr(text)[1:-1] if text.strip() != text or not text else text,
                f"{before:.3f}",
                f"{after:.3f}",
                f"{after - before:+.3f}",
            ]
            for col, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if col:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if col == 3 and abs(after - before) >= 0.005:
                    item.setForeground(Qt.darkGreen if after > before else Qt.red)
                self.table.setItem(row, col, item)
        text = self._candidate_text(base, now)
        if s.pair is not None and any(iv.mode == "patch" for iv in s.interventions):
            source = html.escape(s.pair.prompt.replace("\n", "⏎"))
            text += f"<br>Patched from the paired prompt: <code>{source}</code> (aligned from its last token)"
        self.candidates.setText(text)

    @staticmethod
    def _candidate_text(base, now) -> str:
        if base.candidates is None:
            return (
                "<i>No task candidates for this prompt: pick a task example, or type a correct "
                "and an incorrect next token above.</i>"
            )
        (good, pg0), (bad, pb0) = base.candidates
        (_, pg1), (_, pb1) = now.candidates
        return (
            f"Correct <b>{html.escape(visible(good))}</b>: {pg0:.3f} → {pg1:.3f} &nbsp; "
            f"Incorrect <b>{html.escape(visible(bad))}</b>: {pb0:.3f} → {pb1:.3f} &nbsp; "
            f"Logit difference: {base.logit_diff:+.2f} → <b>{now.logit_diff:+.2f}</b> "
            f"({now.logit_diff - base.logit_diff:+.2f})"
        )
