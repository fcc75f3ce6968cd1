"""File ▸ Open checkpoint with one of OpenAI's models whose tinypython folder is not beside it:
the app asks for that folder (never another tokenizer), and remembers the choice."""

import json
import shutil

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.file_menu import TOKENIZERS_KEY
from app.window import MainWindow
from core.commands.bench import SMALL_SHAPE, write_openai_model
from tests.app.conftest import settle
from tests.conftest import FIXTURES


@pytest.fixture
def lone_model(tmp_path):
    """An OpenAI model alone in its folder, and its tokenizer somewhere else."""
    model = tmp_path / "downloads" / "toy"
    write_openai_model(model, SMALL_SHAPE, density=0.25)
    shutil.copytree(FIXTURES / "tinypython", tmp_path / "elsewhere" / "tinypython")
    return model, tmp_path / "elsewhere" / "tinypython"


def answer(monkeypatch, yes: bool, folder) -> list:
    asked = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.Yes if yes else QMessageBox.No

    monkeypatch.setattr(QMessageBox, "question", question)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    return asked


def test_the_app_asks_for_the_tokenizer_folder_and_remembers_it(qtbot, window, lone_model, monkeypatch):
    model, tokenizer = lone_model
    asked = answer(monkeypatch, True, tokenizer)
    window.files.open_model(model)
    settle(window, 120)
    assert "tinypython" in asked[0] and "encoder.json" in asked[0]
    assert window.session.bench.checkpoint.path == model.resolve()
    assert window.session.bench.tokenizer.encode("x = 1\n")  # tinypython's, from the chosen folder
    assert json.loads(window.settings.value(TOKENIZERS_KEY)) == {str(model.resolve()): str(tokenizer)}
    # The next window (the next launch) opens the same model without asking.
    again = MainWindow(settings=window.settings)
    qtbot.addWidget(again)
    assert again.session.tokenizer_for(model) == str(tokenizer)
    asked.clear()
    again.files.open_model(model)
    settle(again, 120)
    assert asked == [] and again.session.bench.checkpoint.path == model.resolve()


def test_declining_or_a_wrong_folder_changes_nothing(qtbot, window, lone_model, monkeypatch, tmp_path):
    model, _ = lone_model
    before = window.session.bench
    answer(monkeypatch, False, tmp_path)
    window.files.open_model(model)
    assert not window.session.busy and window.session.bench is before
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    answer(monkeypatch, True, tmp_path)  # no encoder.json there
    window.files.open_model(model)
    assert not window.session.busy and window.session.bench is before
    assert "no encoder.json or vocab.bpe there" in warnings[0]
    assert window.settings.value(TOKENIZERS_KEY) is None
