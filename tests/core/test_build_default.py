"""The default model's report flags circuits whose numbers mislead."""

from core.build_default import caution_for, format_report

ROW = dict(
    task="t",
    target_loss=0.15,
    n_nodes=20,
    n_edges=25,
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


def test_a_task_no_circuit_reaches_is_flagged_as_such():
    row = {**ROW, "loss_full": 0.76, "loss_circuit": 0.76}
    assert "no circuit reaches the target" in caution_for(row)
