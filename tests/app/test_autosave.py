"""After a crash the app offers the session back; a clean exit leaves nothing to offer."""

from app.window import MainWindow
from app.workspace import load_workspace
from tests.app.conftest import settle


def new_window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.autosave.timer.setInterval(10)
    w.show()
    return w


def test_a_crashed_session_is_offered_back_and_restored(qtbot, default_model):
    first = new_window(qtbot)
    first.start()
    settle(first)
    s = first.session
    s.ablate("node", [s.circuit.nodes[0]], "zero")
    s.select([s.circuit.nodes[1]])
    qtbot.waitUntil(lambda: first.autosave.pending() is not None, timeout=5000)
    qtbot.wait(50)  # the last change's save
    # The process dies here: no closeEvent, the file stays. The next launch finds it.
    first.autosave.timer.stop()
    first.autosave.enabled = False
    second = new_window(qtbot)
    asked = []
    second.start(ask=lambda question: asked.append(question) or True)
    settle(second)
    assert "did not close properly" in asked[0]
    assert second.session.interventions == s.interventions
    assert second.session.selection == [s.circuit.nodes[1]]
    assert second.session.circuit.nodes == s.circuit.nodes


def test_declining_or_a_clean_exit_leaves_nothing_to_offer(qtbot, default_model):
    first = new_window(qtbot)
    first.start()
    settle(first)
    first.session.ablate("node", [first.session.circuit.nodes[0]], "zero")
    qtbot.waitUntil(lambda: first.autosave.pending() is not None, timeout=5000)
    first.autosave.timer.stop()
    first.autosave.enabled = False  # the crashed process
    second = new_window(qtbot)
    second.start(ask=lambda question: False)
    settle(second)
    assert second.session.interventions == []
    qtbot.wait(50)
    pending = second.autosave.pending()  # now the new session's, not the declined one
    assert pending is None or load_workspace(pending).interventions == []
    second.session.ablate("node", [second.session.circuit.nodes[0]], "zero")
    qtbot.waitUntil(lambda: second.autosave.pending() is not None, timeout=5000)
    second.close()
    assert second.autosave.pending() is None
    third = new_window(qtbot)
    third.start(ask=lambda question: (_ for _ in ()).throw(AssertionError("asked after a clean exit")))
    settle(third)
    assert third.session.circuit is not None
