import shutil
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.recent import MAX_RECENT, RecentFiles
from app.settings import app_settings


def recent_items(menu_action):
    """The Open Recent entries as the user sees them, after opening the submenu."""
    menu = menu_action("File", "Open Recent").menu()
    menu.aboutToShow.emit()
    return [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]


def copy_circuit(default_model, path):
    shutil.copy2(default_model / "circuits" / "single_double_quote.json", path)
    return path


def test_opened_and_saved_files_are_listed_newest_first(
    window, menu_action, monkeypatch, tmp_path, default_model
):
    circuit = copy_circuit(default_model, tmp_path / "quotes.json")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(circuit), ""))
    menu_action("File", "Open circuit…").trigger()
    workspace = tmp_path / "study.scws.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(workspace), ""))
    menu_action("File", "Save workspace…").trigger()
    assert recent_items(menu_action) == [
        "1 study.scws.json  (workspace)",
        "2 quotes.json  (circuit)",
        "Clear Recent",
    ]
    # Choosing an entry opens it.
    opened = window.session.circuit
    menu_action("File", "Open Recent", "2 quotes.json  (circuit)").trigger()
    assert window.session.circuit is not opened and window.session.circuit_path == str(circuit)
    assert recent_items(menu_action)[0] == "1 quotes.json  (circuit)"


def test_the_list_is_kept_in_settings_and_capped(window, tmp_path, menu_action, qtbot):
    from app.window import MainWindow

    for i in range(MAX_RECENT + 3):
        window.files.recent.add("circuit", tmp_path / f"c{i}.json")
        (tmp_path / f"c{i}.json").write_text("{}")
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    entries = RecentFiles(again.settings).entries()
    assert len(entries) == MAX_RECENT
    assert entries[0] == ("circuit", str(tmp_path / f"c{MAX_RECENT + 2}.json"))


def test_missing_files_are_pruned_with_a_message(window, menu_action, tmp_path, default_model):
    kept = copy_circuit(default_model, tmp_path / "kept.json")
    gone = copy_circuit(default_model, tmp_path / "gone.json")
    window.files.recent.add("circuit", kept)
    window.files.recent.add("circuit", gone)
    gone.unlink()
    assert recent_items(menu_action) == ["1 kept.json  (circuit)", "Clear Recent"]
    assert str(gone) in window.statusBar().currentMessage()
    assert str(gone) in window.log_panel.text.toPlainText()


def test_a_file_gone_since_the_menu_opened_is_reported(
    window, menu_action, monkeypatch, tmp_path, default_model
):
    gone = copy_circuit(default_model, tmp_path / "gone.json")
    window.files.recent.add("circuit", gone)
    assert recent_items(menu_action)[0] == "1 gone.json  (circuit)"  # the menu is open
    item = menu_action("File", "Open Recent", "1 gone.json  (circuit)")
    gone.unlink()
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    circuit = window.session.circuit
    item.trigger()
    assert str(gone) in shown[0] and window.session.circuit is circuit
    assert recent_items(menu_action) == ["No recent files", "Clear Recent"]


def test_clear_recent(window, menu_action, tmp_path, default_model):
    window.files.recent.add("circuit", copy_circuit(default_model, tmp_path / "a.json"))
    assert len(recent_items(menu_action)) == 2
    menu_action("File", "Open Recent", "Clear Recent").trigger()
    assert recent_items(menu_action) == ["No recent files", "Clear Recent"]
    assert not menu_action("File", "Open Recent", "Clear Recent").isEnabled()
    assert RecentFiles(app_settings()).entries() == []


def test_settings_are_written_to_the_test_folder(window, app_settings_in_tmp):
    window.files.recent.add("workspace", "somewhere.scws.json")
    window.close()
    assert window.settings.fileName().startswith(str(app_settings_in_tmp))
    assert (app_settings_in_tmp / "SparseCircuitsTests" / "SparseCircuits.ini").is_file()


def test_file_dialogs_open_where_the_last_file_of_their_kind_was(window, tmp_path):
    files = window.files
    assert files.start_in("circuit") == str(Path.home())
    (tmp_path / "circuits").mkdir()
    files._done("circuit", tmp_path / "circuits" / "c.json", "Saved the circuit")
    assert files.start_in("circuit", "x.json") == str(tmp_path / "circuits" / "x.json")
    files._done("checkpoint", tmp_path, "Opened the checkpoint")
    assert files.start_in("checkpoint") == str(tmp_path)
    assert files.start_in("workspace") == str(Path.home())


def test_unreadable_entries_in_the_settings_are_skipped():
    from app.recent import SETTINGS_KEY

    settings = app_settings()
    recent = RecentFiles(settings)
    settings.setValue(
        SETTINGS_KEY,
        '[["circuit", "/a.json"], ["script", "/b.py"], ["circuit", 3], '
        '["workspace", "/c.scws.json", 1], "x", null, '
        '["checkpoint", "/run"]]',
    )
    assert recent.entries() == [("circuit", "/a.json"), ("checkpoint", "/run")]
    for broken in ("{not json", '{"circuit": "/a.json"}', "3", ""):
        settings.setValue(SETTINGS_KEY, broken)
        assert recent.entries() == []
    recent.add("workspace", "/w.scws.json")  # and writing starts over cleanly
    assert recent.entries() == [("workspace", "/w.scws.json")]
