"""The default model's report flags circuits whose numbers mislead."""

import json
from pathlib import Path

from core.build_default import caution_for, format_report
from core.circuit import Circuit

SHIPPED = Path(__file__).parents[2] / "resources" / "default_model"

ROW = dict(
    task="t",
    target_loss=0.15,
    n_nodes=20,
    n_edges=25,
    n_residual_edges=4,
    loss_full=0.01,
    loss_circuit=0.13,
    heldout_loss=0.12,
    necessity_loss=0.8,
    random_circuit_loss_mean=0.7,
    random_circuit_loss_std=0.01,
    zero_ablation_loss=0.1,
    reinit_control_loss=0.9,
    prune_seconds=60.0,
)


def test_a_sound_circuit_has_no_caution():
    assert caution_for(ROW) is None


def test_a_task_the_model_never_learned_is_flagged():
    assert "does not learn the task" in caution_for({**ROW, "loss_full": 0.5})


def test_a_circuit_the_model_does_not_need_is_flagged():
    row = {**ROW, "necessity_loss": ROW["loss_full"] + 0.05}
    assert "nearly as well without the circuit" in caution_for(row)


def test_random_circuits_doing_as_well_is_flagged():
    assert "random node sets" in caution_for({**ROW, "random_circuit_loss_mean": 0.14})


def test_heldout_above_target_is_flagged_and_reported():
    row = {**ROW, "heldout_loss": 0.19}
    assert "held-out" in caution_for(row)
    report = format_report(
        {
            "seed": 0,
            "train_steps": 10,
            "final_loss": 2.0,
            "final_val_loss": 2.4,
            "machine": "m",
            "tasks": [ROW, row],
        }
    )
    assert report.count("| t |") == 2 and "Read these with care" in report
    assert "| task | nodes | edges | residual links |" in report and "| t | 20 | 25 | 4 |" in report


def test_the_shipped_report_counts_as_its_circuits_do():
    report = json.loads((SHIPPED / "report.json").read_text())
    for row in report["tasks"]:
        circuit = Circuit.load(SHIPPED / "circuits" / f"{row['task']}.json")
        assert row["n_nodes"] == circuit.n_nodes, row["task"]
        assert row["n_edges"] == circuit.n_edges, row["task"]
        assert row["n_residual_edges"] == circuit.n_residual_edges, row["task"]
        assert row["nodes_per_location"] == circuit.nodes_per_location, row["task"]
    assert format_report(report) == (SHIPPED / "REPORT.md").read_text()


def test_a_task_no_circuit_reaches_is_flagged_as_such():
    row = {**ROW, "loss_full": 0.76, "loss_circuit": 0.76}
    assert "no circuit reaches the target" in caution_for(row)
