"""Patching from the paired prompt in the app: the graph's menu, the outputs, the list of
interventions, undo, a workspace, Copy as Python; and the same number as core and the CLI."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from app.session import Session
from core.cli import main
from core.interventions import Intervention
from core.outputs import predict
from tests.app.conftest import settle
from tests.app.test_workspace import open_from, save_as

ROOT = Path(__file__).resolve().parents[2]
# Of the shipped quote circuit, two of layer 0 attention's residual writes: patching both flips the answer.
QUOTE_NODES = ["0.attn.resid_delta.25", "0.attn.resid_delta.62"]


def menu_texts(window, kind, targets):
    return [a.text() for a in window.graph.context_menu(kind, targets).actions()]


def strongest_patch(window) -> str:
    """The circuit node whose patch moves the logit difference most (the tiny model's circuit
    is a fixed set of channels, not a pruned one)."""
    s, b = window.session, window.session.bench
    source = s.source_ids

    def moved(node):
        p = predict(b.model, b.tokenizer, s.ids, [Intervention("node", node, "patch")], b.means,
                    s.candidates, source=source)  # fmt: skip
        return abs(p.logit_diff - s.baseline.logit_diff)

    nodes = s.circuit.nodes if s.circuit is not None else s.bench.model.topology.all_nodes()[::7]
    return max(nodes, key=moved)


def test_the_menu_patches_a_node_from_the_pair_and_undo_takes_it_back(window):
    s = window.session
    settle(window)
    assert s.example is not None and s.pair is not None  # a task example: its twin is known
    assert s.pair.correct == s.example.incorrect and s.pair.incorrect == s.example.correct
    node = strongest_patch(window)
    menu = window.graph.context_menu("node", [node])
    patch = next(a for a in menu.actions() if a.text() == "Patch from paired prompt")
    patch.trigger()
    settle(window)
    assert s.interventions == [Intervention("node", node, "patch")]
    assert window.interventions.list.item(0).text() == f"node  {node}  (patch)"
    b = s.bench
    expected = predict(b.model, b.tokenizer, s.ids, s.interventions, b.means, s.candidates,
                       source=b.tokenizer.encode(s.pair.prompt))  # fmt: skip
    assert s.current.logit_diff == pytest.approx(expected.logit_diff, abs=1e-6)
    assert s.current.logit_diff != pytest.approx(s.baseline.logit_diff, abs=1e-3)
    assert "paired prompt" in window.outputs.candidates.text()
    i = window.graph.graph.index()[node]
    assert "patched from the paired prompt" in window.graph.describe_node(i)
    assert s.undo_stack.undoText() == f"Patch {node} from the paired prompt"
    s.undo_stack.undo()
    assert s.interventions == [] and s.current.logit_diff == s.baseline.logit_diff
    s.undo_stack.redo()
    assert s.interventions == [Intervention("node", node, "patch")]
    # The task's examples are scored with each one's own twin as the source.
    settle(window)
    assert s.scores.logit_diff_now != s.scores.logit_diff and not s.scores.rejected


def test_a_typed_prompt_has_no_patch_and_a_patch_is_refused(window):
    s = window.session
    node = s.circuit.nodes[0]
    assert "Patch from paired prompt" in menu_texts(window, "node", [node])
    s.set_prompt("x = 1")
    assert s.pair is None
    assert "Patch from paired prompt" not in menu_texts(window, "node", [node])
    with pytest.raises(ValueError, match="no pair"):
        s.ablate("node", [node], "patch")
    window.graph.ablate_requested.emit("node", [node], "patch")  # say, from a stale menu
    assert s.interventions == [] and "no pair" in window.statusBar().currentMessage()


def test_a_patch_round_trips_through_a_workspace(window, menu_action, monkeypatch, tmp_path):
    s = window.session
    node = strongest_patch(window)
    window.graph.ablate_requested.emit("node", [node], "patch")
    settle(window)
    patched, pair = s.current.logit_diff, s.pair
    path = tmp_path / "patched.scws.json"
    save_as(window, menu_action, monkeypatch, path)
    data = json.loads(path.read_text())
    assert data["interventions"] == [{"kind": "node", "target": node, "mode": "patch"}]
    assert data["example"]["pair"] == pair.prompt
    window.files.open_default()
    settle(window)
    assert s.interventions == []
    open_from(window, menu_action, monkeypatch, path)
    assert s.interventions == [Intervention("node", node, "patch")] and s.pair == pair
    assert s.current.logit_diff == pytest.approx(patched, abs=1e-6)


def test_copy_as_python_reproduces_a_patch(window, tiny_default, tmp_path):
    import shutil

    s = window.session
    model = tmp_path / "model"
    shutil.copytree(tiny_default, model)
    s.open_model(model)
    from core.tasks import BUILTIN_TASKS

    s.set_task(BUILTIN_TASKS["single_double_quote"])
    node = strongest_patch(window)
    s.ablate("node", [node], "patch")
    s.ablate("node", [s.bench.model.topology.all_nodes()[3]], "mean")
    settle(window)
    window.copy_as_python()
    script = QApplication.clipboard().text()
    assert "'patch')" in script and repr(s.pair.prompt) in script
    path = tmp_path / "view.py"
    path.write_text(script)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    diffs = dict(re.findall(r"^(model|with interventions): logit difference ([-+0-9.e]+)", out.stdout, re.M))
    assert float(diffs["with interventions"]) == pytest.approx(s.current.logit_diff, abs=1e-5)
    assert s.current.logit_diff != pytest.approx(s.baseline.logit_diff, abs=1e-4)


def test_app_cli_and_core_give_the_same_patched_logit_difference(qtbot, capsys):
    """On the shipped model and its quote circuit: patching those two writes from the paired
    prompt flips the first held-out example's answer, by the same number in all three."""
    s = Session()
    s.open_default()  # the shipped model, its quote circuit, the task's first held-out example
    s.ablate("node", QUOTE_NODES, "patch")
    app_after, app_before = s.current.logit_diff, s.baseline.logit_diff
    b = s.bench
    core_after = predict(b.model, b.tokenizer, b.tokenizer.encode(s.example.prompt),
                         [Intervention("node", n, "patch") for n in QUOTE_NODES], b.means,
                         (s.example.correct, s.example.incorrect),
                         source=b.tokenizer.encode(s.pair.prompt)).logit_diff  # fmt: skip
    nodes = [arg for n in QUOTE_NODES for arg in ("--node", n)]
    assert main(["patch", "default", "--task", "single_double_quote", *nodes, "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)["prompts"][0]
    assert cli["prompt"] == s.example.prompt and cli["source"] == s.pair.prompt
    assert cli["logit_diff_before"] == pytest.approx(app_before, abs=1e-5)
    assert cli["logit_diff_after"] == pytest.approx(app_after, abs=1e-5)
    assert core_after == pytest.approx(app_after, abs=1e-5)
    assert app_before > 4 and app_after < 0  # +5.97 -> -4.65 (its twin +7.44 -> -4.10): the answer flips
    s.stop_jobs()


def test_a_workspace_patch_needs_the_pair(default_model):
    from app.workspace import Workspace, check_against_model, workspace_from_dict
    from core.fileio import FileFormatError
    from core.tasks import Example
    from core.workbench import Workbench

    bench = Workbench(default_model)
    example = Example("x = 'a", "'", '"')
    ws = Workspace(
        "default", None, None, [Intervention("node", "0.attn.v.1", "patch")], example.prompt, example
    )
    ws.position = 0
    with pytest.raises(FileFormatError, match=r"w.json: field 'interventions\[0\]': .* no pair"):
        check_against_model(ws, bench.model, bench.tokenizer, "w.json")
    ws.pair = Example('x = "a', '"', "'")
    back = workspace_from_dict(json.loads(json.dumps(ws.to_dict())), "w.json")
    assert back.pair == ws.pair and back.interventions == ws.interventions
    check_against_model(back, bench.model, bench.tokenizer, "w.json")
