"""File ▸ Open circuit with one of OpenAI's viz_data.pt files."""

from types import SimpleNamespace

import pytest

from app.session import Session
from core.fileio import FileFormatError
from core.formats import load_checkpoint
from core.provenance import fingerprint
from tests.conftest import FIXTURES

MODEL = FIXTURES / "openai_format" / "layernorm_bias_tied"
VIZ = FIXTURES / "openai_viz" / "viz" / "layernorm_bias_tied" / "single_double_quote" / "prune_v4" / "k_optim"


def test_a_viz_file_opens_against_the_open_model_and_is_kept_inline(qtbot, monkeypatch):
    session = Session()
    tasks = []
    monkeypatch.setattr(session, "set_task", tasks.append)  # scoring the task is tested elsewhere
    with pytest.raises(FileFormatError, match="cannot find its model"):
        session.open_circuit(VIZ / "viz_data.pt")  # no model open, none beside viz/
    # The fixture model's vocabulary is smaller than the tokenizer's, so no Workbench takes it:
    # an open model, as far as opening a circuit needs one.
    ckpt = load_checkpoint(MODEL)
    session.bench = SimpleNamespace(
        checkpoint=ckpt, model=ckpt.model, fingerprint=fingerprint(ckpt.model), ref=str(MODEL)
    )
    session.open_circuit(VIZ / "viz_data.pt")
    circuit = session.circuit
    assert circuit.n_edges >= 10 and circuit.extra["model_fingerprint"] == session.bench.fingerprint
    assert session.circuit_path is None  # a workspace stores it inline
    assert tasks and tasks[0].name == "single_double_quote"
