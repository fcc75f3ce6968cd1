"""The `sparse-circuits` program: app.entry for the app's part, core.cli for the rest, and the
headless commands still running where Qt is not installed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.entry import main

REPO = Path(__file__).resolve().parents[2]


def test_help_lists_the_app_and_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for word in ("--self-test", "--screenshot", "train", "info", "tasks", "prune", "eval", "check", "bench"):
        assert word in out, word
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "gui: the app's latencies" in " ".join(capsys.readouterr().out.split())


def test_bad_input_is_one_line_from_either_half(capsys):
    assert main(["bench", "gpu"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["info", "/no/such/checkpoint"]) == 2
    err = capsys.readouterr().err
    assert "/no/such/checkpoint" in err and len(err.strip().splitlines()) == 1


WITHOUT_QT = """
import contextlib, io, json, sys
sys.modules.update({"PySide6": None, "pyqtgraph": None})   # as if they were not installed
from app.entry import main
import core.cli
runs = {}
for name, entry, argv in [("tasks", main, ["tasks", "--json"]), ("app", main, []),
                          ("bench_gui", main, ["bench", "gui"]), ("alone", core.cli.main, []),
                          ("alone_gui", core.cli.main, ["bench", "gui"])]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = entry(argv)
    runs[name] = {"status": status, "out": out.getvalue(), "err": err.getvalue()}
runs["qt_loaded"] = any(m.startswith(("PySide6.", "pyqtgraph.")) for m in sys.modules)
print(json.dumps(runs))
"""


def test_without_qt_the_commands_run_and_the_app_says_what_is_missing():
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_QT], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout.splitlines()[-1])
    assert runs["tasks"]["status"] == 0 and len(json.loads(runs["tasks"]["out"])) >= 10
    assert runs["app"]["status"] == 2
    assert "pip install 'sparse-circuits[gui]'" in runs["app"]["err"]
    assert "train" in runs["app"]["out"]  # and the help of the commands
    assert runs["bench_gui"]["status"] == 2
    assert runs["bench_gui"]["err"].strip().count("\n") == 0
    assert "PySide6" in runs["bench_gui"]["err"]
    # core.cli alone: the headless commands only, one line for what it does not have.
    assert runs["alone"]["status"] == 2 and "a command is required" in runs["alone"]["err"]
    assert runs["alone_gui"]["status"] == 2 and "invalid choice: 'gui'" in runs["alone_gui"]["err"]
    assert not runs["qt_loaded"]
