"""One current task: Outputs, Pruning, the circuit header and the examples table agree; the
user's own candidates; stepping through a task's examples; big models off the GUI thread."""

import numpy as np
import pytest

import app.session
from core.interventions import applied
from core.taskeval import encode_examples, per_example
from core.tasks import BUILTIN_TASKS
from tests.app.conftest import settle


def scored(window, qtbot):
    qtbot.waitUntil(lambda: window.session.scores is not None, timeout=30_000)
    return window.session.scores


def test_outputs_and_pruning_share_the_task_and_the_header_says_when_the_circuit_differs(window):
    s = window.session
    assert s.task.name == s.circuit.task == window.pruning.task.currentData()
    assert "pruned for" not in window.summary.text()
    other = next(name for name in BUILTIN_TASKS if name != s.circuit.task)
    window.outputs.task_box.activated.emit(window.outputs.task_box.findData(other))
    assert s.task.name == other and window.pruning.task.currentData() == other
    assert f"pruned for {s.circuit.task}; the current task is {other}" in window.summary.text()
    back = window.pruning.task.findData(s.circuit.task)
    window.pruning.task.activated.emit(back)  # chosen in the Pruning panel this time
    assert s.task.name == s.circuit.task and window.outputs.task_box.currentData() == s.circuit.task
    assert "pruned for" not in window.summary.text()


def test_typed_candidates_score_a_typed_prompt(window):
    s, out = window.session, window.outputs
    out.prompt_edit.setText("x = [1, 2")
    out.prompt_edit.returnPressed.emit()
    assert s.candidates is None
    tok = s.bench.tokenizer
    correct, incorrect = tok.token_text(tok.encode("]")[0]), tok.token_text(tok.encode(",")[0])
    out.correct_edit.setText(correct)
    out.incorrect_edit.setText(incorrect)
    out.incorrect_edit.returnPressed.emit()
    assert s.candidates == (correct, incorrect) and s.prompt == "x = [1, 2"
    assert f"Correct <b>{correct}</b>" in out.candidates.text() and s.current.logit_diff is not None
    ids = [tok.token_id(correct), tok.token_id(incorrect)]
    logp = np.log(s.current.probs[ids])
    assert s.current.logit_diff == pytest.approx(logp[0] - logp[1], abs=1e-3)
    assert out.candidate_error.isHidden()


def test_candidates_that_are_not_one_token_are_refused_with_the_reason(window):
    s, out = window.session, window.outputs
    before = s.candidates
    out.correct_edit.setText("this is several tokens")
    out.incorrect_edit.setText(before[1])
    out.correct_edit.returnPressed.emit()
    assert not out.candidate_error.isHidden()
    assert "'this is several tokens' is not one token" in out.candidate_error.text()
    assert s.candidates == before  # nothing changed


def test_stepping_through_the_examples_with_their_scores(window, qtbot):
    s, panel = window.session, window.examples
    scores = scored(window, qtbot)
    n = len(scores.examples)
    assert n >= 16 and panel.table.rowCount() == n
    assert panel.current_row() == 0 and "example 1 of" in panel.where.text()
    panel.next.click()
    assert s.prompt == scores.examples[1].prompt and s.candidates == (
        scores.examples[1].correct,
        scores.examples[1].incorrect,
    )
    panel.previous.click()
    panel.previous.click()  # wraps around
    assert panel.current_row() == n - 1
    panel.table.cellClicked.emit(3, 0)
    assert panel.current_row() == 3 and s.example == scores.examples[3]

    # with an ablation, each row's second numbers are core's, under the same interventions
    s.ablate("node", s.circuit.nodes[:3], "zero")
    assert s.scores is None and "scoring" in panel.summary.text()
    scores = scored(window, qtbot)
    batch = encode_examples(scores.examples, s.bench.tokenizer, s.bench.model.config.block_size)
    with applied(s.bench.model, s.interventions, s.bench.means):
        expected = per_example(s.bench.model, batch)
    np.testing.assert_allclose(scores.loss_now, expected["task_loss"], atol=1e-5)
    assert scores.loss_now != scores.loss
    assert panel.table.item(0, 1).text() == f"{scores.loss[0]:.3f}→{scores.loss_now[0]:.3f}"
    assert "with the interventions" in panel.summary.text()


def test_a_large_model_computes_outputs_and_graphs_off_the_gui_thread(window, monkeypatch):
    monkeypatch.setattr(app.session, "INLINE_MODEL_PARAMS", 0)
    monkeypatch.setattr(app.session, "INLINE_GRAPH_NODES", 0)
    s = window.session
    before = s.current
    s.ablate("node", [s.circuit.nodes[0]], "zero")
    s.ablate("node", [s.circuit.nodes[1]], "zero")  # supersedes the first before it is done
    assert s.current is before  # not computed here
    settle(window)
    expected = window.session.current
    assert expected is not before and len(s.interventions) == 2
    from core.outputs import predict

    direct = predict(s.bench.model, s.bench.tokenizer, s.ids, s.interventions, s.bench.means, s.candidates)
    np.testing.assert_allclose(expected.probs, direct.probs, atol=1e-6)
    s.set_graph_mode("model")
    assert s.graph.nodes == s.circuit.nodes  # still the old graph
    settle(window)
    assert len(s.graph.nodes) == len(s.bench.model.topology.all_nodes())
