import logging
import re
import threading

from PySide6.QtWidgets import QApplication, QMessageBox

import app.views.pruning
from core.pipelines.events import Status

STAMP = r"\d\d:\d\d:\d\d  "


def log_lines(window) -> list[str]:
    return window.log_panel.text.toPlainText().splitlines()


def test_status_messages_and_thread_logging_reach_the_log(window, qtbot, menu_action):
    menu_action("View", "Log").trigger()
    assert window.log_dock.isVisible()
    window.graph.ablate_requested.emit("node", [window.session.circuit.nodes[0]], "mean")
    assert window.statusBar().currentMessage() == "1 intervention active"
    assert re.fullmatch(STAMP + "1 intervention active", log_lines(window)[-1])
    thread = threading.Thread(target=lambda: logging.getLogger("app.somewhere").warning("from a thread"))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: log_lines(window)[-1].endswith("warning: from a thread"), timeout=2000)
    assert re.fullmatch(STAMP + "warning: from a thread", log_lines(window)[-1])

    window.log_panel.copy_button.click()
    assert QApplication.clipboard().text() == window.log_panel.text.toPlainText()
    window.log_panel.clear_button.click()
    assert window.log_panel.text.toPlainText() == ""
    window.close()
    logging.getLogger("app.somewhere").info("after closing")  # no handler left behind
    assert not any(
        getattr(h, "emitter", None) is window.log_handler.emitter for h in logging.getLogger("app").handlers
    )


def test_worker_start_finish_and_errors_are_logged(window, qtbot, monkeypatch):
    def failing_job(*args):
        yield Status("starting")
        raise RuntimeError("the masks went to NaN")

    monkeypatch.setattr(app.views.pruning, "prune_and_check", failing_job)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    panel = window.pruning
    panel.start()
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=10_000)
    text = window.log_panel.text.toPlainText()
    assert f"Pruning started: {panel.task.currentData()}, target task loss" in text
    assert "error: Pruning failed: the masks went to NaN" in text
    assert "Pruning cancelled" not in text and shown == ["the masks went to NaN"]
    assert panel.status.text().startswith("Stopped by an error")
