"""File ▸ Open checkpoint with one of OpenAI's models whose tinypython folder is not beside it:
the app asks for that folder (never another tokenizer), and remembers the choice."""

import json
import shutil

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.file_menu import TOKENIZERS_KEY
from app.window import MainWindow
from core.commands.bench import SMALL_SHAPE, write_openai_model
from core.tasks import BUILTIN_TASKS
from tests.app.conftest import settle
from tests.conftest import FIXTURES


@pytest.fixture
def lone_model(tmp_path):
    """An OpenAI model alone in its folder, and its tokenizer somewhere else."""
    model = tmp_path / "downloads" / "toy"
    write_openai_model(model, SMALL_SHAPE, density=0.25)
    shutil.copytree(FIXTURES / "tinypython", tmp_path / "elsewhere" / "tinypython")
    return model, tmp_path / "elsewhere" / "tinypython"


def answer(monkeypatch, window, choice, folder) -> list:
    """The tokenizer question answered with `choice` ("choose", "ids" or None), and the
    folder dialog with `folder`; returns the folders asked about."""
    asked = []

    def ask(model_folder):
        asked.append(model_folder)
        return choice

    monkeypatch.setattr(window.files, "ask_tokenizer", ask)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    return asked


def test_the_app_asks_for_the_tokenizer_folder_and_remembers_it(qtbot, window, lone_model, monkeypatch):
    model, tokenizer = lone_model
    asked = answer(monkeypatch, window, "choose", tokenizer)
    window.files.open_model(model)
    settle(window, 120)
    assert asked == [model]
    assert window.session.bench.checkpoint.path == model.resolve()
    assert window.session.bench.tokenizer.encode("x = 1\n")  # tinypython's, from the chosen folder
    assert json.loads(window.settings.value(TOKENIZERS_KEY)) == {str(model.resolve()): str(tokenizer)}
    # The next window (the next launch) opens the same model without asking.
    again = MainWindow(settings=window.settings)
    qtbot.addWidget(again)
    assert again.session.tokenizer_for(model) == str(tokenizer)
    asked = answer(monkeypatch, again, "choose", tokenizer)
    again.files.open_model(model)
    settle(again, 120)
    assert asked == [] and again.session.bench.checkpoint.path == model.resolve()


def test_declining_or_a_wrong_folder_changes_nothing(qtbot, window, lone_model, monkeypatch, tmp_path):
    model, _ = lone_model
    before = window.session.bench
    answer(monkeypatch, window, None, tmp_path)  # Cancel
    window.files.open_model(model)
    assert not window.session.busy and window.session.bench is before
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    answer(monkeypatch, window, "choose", tmp_path)  # no encoder.json there
    window.files.open_model(model)
    assert not window.session.busy and window.session.bench is before
    assert "no encoder.json or vocab.bpe there" in warnings[0]
    assert window.settings.value(TOKENIZERS_KEY) is None


def test_the_question_offers_the_folder_token_ids_or_nothing(qtbot, window, lone_model, monkeypatch):
    model, _ = lone_model
    seen = {}

    def exec_(box):
        seen["text"] = box.text() + box.informativeText()
        seen["buttons"] = [b.text() for b in box.buttons()]
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    assert window.files.ask_tokenizer(model) is None  # closed without a choice
    assert "tinypython" in seen["text"] and "encoder.json" in seen["text"] and "token ids" in seen["text"]
    assert "Choose the folder…" in seen["buttons"] and "Open with token ids" in seen["buttons"]


def test_without_its_tokenizer_the_model_opens_on_token_ids(qtbot, window, lone_model, monkeypatch):
    """Never through another tokenizer: prompts are ids, tokens show as #id, zero ablation and
    patching work, and what needs text (mean ablation, tasks) is refused in words."""
    model, _ = lone_model
    answer(monkeypatch, window, "ids", model)
    window.files.open_model(model)
    settle(window, 120)
    s = window.session
    assert s.bench.checkpoint.path == model.resolve() and not s.bench.reads_text
    assert "Token ids" in window.summary.text()
    assert not window.outputs.task_box.isEnabled()  # the tasks' examples are text
    assert s.ids == list(range(8)) and s.tokens()[:2] == ["#0", "#1"]
    assert s.baseline is not None and s.baseline.top[0][1].startswith("#")
    s.set_prompt("12 7, 2047")
    assert s.ids == [12, 7, 2047]
    node = "0.mlp.post_act.1"
    s.select([node])
    settle(window, 50)
    assert ">#12</span> <span" in window.inspector.prompt_acts.text()  # ids apart, not #12#7
    window._ablate("node", [node], "zero")
    assert s.current is not None and s.current.top != s.baseline.top
    window._ablate("node", ["0.mlp.post_act.2"], "mean")  # refused in the status bar, not applied
    assert [iv.target for iv in s.interventions] == [node]
    assert "Mean ablation needs" in window.statusBar().currentMessage()
    s.set_prompt("x = 1")  # text: an error in the log, no tokens, nothing run
    assert s.ids == [] and s.baseline is None
    with pytest.raises(ValueError, match="tinypython folder"):
        s.bench.batch(s.task or BUILTIN_TASKS["single_double_quote"])
