"""The window fits the screen it opens on, stays that size, and its tool bar never overlaps."""

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QWidget

LAPTOP = (1366, 768)


def visible_bar_widgets(window) -> list[QWidget]:
    bar = window.graph_bar
    widgets = [bar.widgetForAction(a) for a in bar.actions()]
    return [w for w in widgets if w is not None and w.isVisible()]


def test_the_window_fits_its_screen_and_a_laptop(window, qtbot):
    free = window.screen().availableGeometry()
    qtbot.waitUntil(lambda: window.isVisible())
    assert free.contains(window.frameGeometry()), (free, window.frameGeometry())
    hint = window.minimumSizeHint()
    assert hint.width() <= LAPTOP[0] * 0.9 and hint.height() <= LAPTOP[1] * 0.9, hint


def test_the_window_never_resizes_itself(window, qtbot):
    s = window.session
    before = window.size()
    s.ablate("node", s.circuit.nodes[:5], "mean")
    s.set_prompt("x = [[1, 2], [3, 4]] and a very long prompt that goes on " * 4)
    s.set_task(s.task)
    s.undo_stack.undo()
    qtbot.wait(50)
    assert window.size() == before


def test_tool_bar_controls_never_overlap(window, qtbot):
    for width in (700, 1000, 1366, 1600):
        window.resize(width, 700)
        qtbot.wait(30)
        rects = [QRect(w.mapTo(window, w.rect().topLeft()), w.size()) for w in visible_bar_widgets(window)]
        assert rects, width
        for i, a in enumerate(rects):
            for b in rects[i + 1 :]:
                assert not a.intersects(b), (width, a, b)
            assert a.right() <= window.graph_bar.mapTo(window, window.graph_bar.rect().topRight()).x()


def test_bottom_docks_leave_the_graph_most_of_the_window(window, menu_action, qtbot):
    window.resize(1300, 720)
    menu_action("Model", "Prune a circuit…").trigger()
    qtbot.wait(50)
    assert window.pruning_dock.isVisible()
    assert window.graph.height() >= 0.3 * window.height()
    menu_action("View", "Reset layout").trigger()
    qtbot.wait(50)
    assert not window.pruning_dock.isVisible()
    assert window.screen().availableGeometry().contains(window.frameGeometry())
