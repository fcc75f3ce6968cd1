"""The current task's held-out examples, one row each: the model's loss and logit difference
on it, as it is and under the interventions. Clicking a row, or stepping with the arrows,
makes that example the prompt."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .text import visible

COLUMNS = ["prompt", "loss", "logit diff"]
TIPS = [
    "The example's prompt (its end; the whole of it, and its right and wrong next tokens, in the tooltip)",
    "Two-token loss, softplus(wrong − right logit): the unmodified model's → under the current "
    "interventions (red: worse). Lower is better, 0.693 is chance",
    "Right minus wrong logit: the unmodified model's → under the current interventions (red: "
    "lower). Above 0: it prefers the right one",
]


class ExamplesPanel(QWidget):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.previous = QPushButton("◀ Previous")
        self.next = QPushButton("Next ▶")
        self.previous.setToolTip("The previous example of the task as the prompt")
        self.next.setToolTip("The next example of the task as the prompt")
        self.where = QLabel()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for col, tip in enumerate(TIPS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setSelectionMode(QTableWidget.SingleSelection)
        self.table.setTextElideMode(Qt.ElideLeft)  # a prompt's end is what the task is about
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        steps = QHBoxLayout()
        steps.addWidget(self.previous)
        steps.addWidget(self.next)
        steps.addWidget(self.where, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(steps)
        layout.addWidget(self.table, 1)

        self.previous.clicked.connect(lambda: self.step(-1))
        self.next.clicked.connect(lambda: self.step(1))
        self.table.cellClicked.connect(lambda row, _: self.choose(row))
        session.scores_changed.connect(self.refresh)
        session.task_changed.connect(self.refresh)
        session.prompt_changed.connect(self._mark_current)
        self.refresh()

    def current_row(self) -> int:
        """The row of the prompt among the scored examples, or -1."""
        scores = self.session.scores
        if scores is None:
            return -1
        prompt = self.session.prompt
        return next((i for i, e in enumerate(scores.examples) if e.prompt == prompt), -1)

    def step(self, by: int) -> None:
        scores = self.session.scores
        if scores is None or not scores.examples:
            return
        row = self.current_row()
        self.choose((row + by) % len(scores.examples) if row >= 0 else 0)

    def choose(self, row: int) -> None:
        scores = self.session.scores
        if scores is not None and 0 <= row < len(scores.examples):
            example = scores.examples[row]
            self.session.set_prompt(example.prompt, example)

    def refresh(self) -> None:
        s, scores = self.session, self.session.scores
        self.table.setRowCount(0)
        task = s.task
        if task is None:
            self.summary.setText("<i>No task chosen: pick one in Outputs or Pruning.</i>")
            self._enable(False)
            return
        if scores is None:
            self.summary.setText(f"<b>{html.escape(task.name)}</b>: scoring its examples…")
            self._enable(False)
            return
        n = len(scores.examples)
        self.table.setRowCount(n)
        for row, e in enumerate(scores.examples):
            loss, diff = f"{scores.loss[row]:.3f}", f"{scores.logit_diff[row]:+.1f}"
            if s.interventions:
                loss += f"→{scores.loss_now[row]:.3f}"
                diff += f"→{scores.logit_diff_now[row]:+.1f}"
            cells = [visible(e.prompt[-60:]), loss, diff]
            worse = {  # by how much the interventions made each number worse
                1: scores.loss_now[row] - scores.loss[row],
                2: scores.logit_diff[row] - scores.logit_diff_now[row],
            }
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setToolTip(
                        f"{html.escape(e.prompt)}<br>right: <b>{html.escape(visible(e.correct))}</b>, "
                        f"wrong: <b>{html.escape(visible(e.incorrect))}</b>"
                    )
                if col >= 1:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                    if s.interventions and abs(worse[col]) >= 0.05:
                        item.setForeground(Qt.red if worse[col] > 0 else Qt.darkGreen)
                self.table.setItem(row, col, item)
        mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
        right = sum(d > 0 for d in scores.logit_diff)
        text = (
            f"<b>{html.escape(task.name)}</b>: {n} held-out examples; mean loss "
            f"{mean(scores.loss):.3f}, {right}/{n} right"
        )
        if s.interventions:
            right_now = sum(d > 0 for d in scores.logit_diff_now)
            text += f" → with the interventions <b>{mean(scores.loss_now):.3f}</b>, {right_now}/{n} right"
        text += " (lower loss is better; chance 0.693)"
        if scores.rejected:
            text += f"<br><i>{len(scores.rejected)} examples cannot be scored: {scores.rejected[0][1]}</i>"
        self.summary.setText(text)
        self._enable(n > 0)
        self._mark_current()

    def _enable(self, on: bool) -> None:
        self.previous.setEnabled(on)
        self.next.setEnabled(on)

    def _mark_current(self) -> None:
        row = self.current_row()
        scores = self.session.scores
        if row >= 0:
            self.table.selectRow(row)
            self.where.setText(f"example {row + 1} of {len(scores.examples)}")
        else:
            self.table.clearSelection()
            self.where.setText("the prompt is not one of these examples" if scores else "")
