"""Edit ▸ Copy as Python: the view as a script on the core API, which prints the numbers the
app shows when run with the project's Python."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from core.tasks import BUILTIN_TASKS
from tests.app.conftest import settle

ROOT = Path(__file__).resolve().parents[2]


def test_the_copied_script_prints_the_logit_difference_the_app_shows(window, tiny_default, tmp_path):
    s = window.session
    model = tmp_path / "model"
    shutil.copytree(tiny_default, model)  # a model named by its folder, as the script names it
    s.open_model(model)
    s.set_task(BUILTIN_TASKS["single_double_quote"])  # a task example: the prompt and candidates
    assert s.candidates is not None
    s.ablate("node", [s.bench.model.topology.all_nodes()[3]], "mean")
    s.ablate("node", [s.bench.model.topology.all_nodes()[40]], "zero")
    settle(window)
    window.copy_as_python()
    script = QApplication.clipboard().text()
    assert "Intervention('node'" in script and str(model) in script
    path = tmp_path / "view.py"
    path.write_text(script)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    diffs = dict(re.findall(r"^(model|with interventions): logit difference ([-+0-9.e]+)", out.stdout, re.M))
    assert float(diffs["model"]) == pytest.approx(s.baseline.logit_diff, abs=1e-5)
    assert float(diffs["with interventions"]) == pytest.approx(s.current.logit_diff, abs=1e-5)
    assert s.current.logit_diff != pytest.approx(s.baseline.logit_diff, abs=1e-4)  # it did change
