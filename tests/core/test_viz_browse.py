import shutil

import pytest
import torch

from core.fileio import FileFormatError
from core.viz_browse import final_pruning_loss, list_viz, sweep_loss_vs_k
from tests.conftest import FIXTURES

MODEL = FIXTURES / "openai_format" / "layernorm_bias_tied"
VIZ_FILE = (
    FIXTURES
    / "openai_viz"
    / "viz"
    / "layernorm_bias_tied"
    / "single_double_quote"
    / "prune_v4"
    / "k_optim"
    / "viz_data.pt"
)
FINAL_LOSS = {"4": 1.5, "16": 0.4, "64": 0.1}  # as stored: twice ours


def published_tree(root):
    """viz/ + models/ as OpenAI publishes them: one sweep with k_optim and three budgets, and a
    stray file that is not laid out as a circuit."""
    sweep = root / "viz" / "layernorm_bias_tied" / "single_double_quote" / "prune_v4"
    data = torch.load(VIZ_FILE, map_location="cpu", weights_only=True)
    for k in ["k_optim", *FINAL_LOSS]:
        (sweep / k).mkdir(parents=True)
        if k in FINAL_LOSS:
            data["all_loss"] = [(0, 3.0), (1, FINAL_LOSS[k])]
        torch.save(data, sweep / k / "viz_data.pt")
    (root / "viz" / "notes").mkdir()
    torch.save({"not": "a circuit"}, root / "viz" / "notes" / "viz_data.pt")
    shutil.copytree(MODEL, root / "models" / "layernorm_bias_tied")
    return sweep


def test_the_tree_lists_model_task_sweep_and_k(tmp_path):
    sweep = published_tree(tmp_path)
    entries = list_viz(tmp_path)
    assert [(e.model, e.task, e.sweep, e.k) for e in entries] == [
        ("layernorm_bias_tied", "single_double_quote", "prune_v4", k) for k in ("k_optim", "4", "16", "64")
    ]
    assert entries[0].sweep_dir == sweep
    assert list_viz(tmp_path / "viz" / "layernorm_bias_tied") == entries  # from any folder inside


def test_a_sweeps_loss_against_k_is_each_runs_final_loss_on_our_scale(tmp_path):
    sweep = published_tree(tmp_path)
    (sweep / "256").mkdir()
    (sweep / "256" / "viz_data.pt").write_bytes(b"garbage")  # left out, as the viewer leaves it out
    assert sweep_loss_vs_k(sweep) == [(4, 0.75), (16, 0.2), (64, 0.05)]
    assert final_pruning_loss({"all_loss": []}) is None
    assert final_pruning_loss({"all_loss": [(0, float("nan"))]}) is None


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileFormatError, match="not a folder"):
        list_viz(tmp_path / "nowhere")
