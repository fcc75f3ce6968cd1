"""Verdicts on the shipped default model's own check numbers (resources/default_model/report.json)."""

import pytest

from core.verdicts import CHECKS, format_table, judge, overall

QUOTE = {
    "sufficiency_loss": 0.130,
    "necessity_loss": 0.720,
    "random_circuit_loss_mean": 0.707,
    "random_circuit_loss_std": 0.003,
    "zero_ablation_loss": 0.061,
    "heldout_loss": 0.139,
    "reinit_control_loss": 0.811,
}
WITH_OPEN = {
    **QUOTE,
    "sufficiency_loss": 0.073,
    "necessity_loss": 0.011,
    "random_circuit_loss_mean": 0.374,
    "heldout_loss": 0.074,
}
ELSE_ELIF = {
    **QUOTE,
    "sufficiency_loss": 0.072,
    "necessity_loss": 0.162,
    "random_circuit_loss_mean": 0.072,
    "random_circuit_loss_std": 0.0,
}


def test_a_sound_circuit_passes_every_check():
    verdicts = judge(QUOTE, 0.15, 0.017)
    assert {k: v.status for k, v in verdicts.items()} == {c.key: "passes" for c in CHECKS}
    assert overall(verdicts).status == "passes"


def test_a_circuit_the_model_does_not_need_fails_necessity():
    verdicts = judge(WITH_OPEN, 0.15, 0.002)
    assert verdicts["necessity_loss"].status == "fails"
    assert "about as well without it" in verdicts["necessity_loss"].reason
    assert overall(verdicts).status == "fails"


def test_random_sets_that_do_as_well_fail_the_circuit():
    verdicts = judge(ELSE_ELIF, 0.15, 0.096)
    assert verdicts["random_circuit_loss_mean"].status == "fails"
    assert verdicts["necessity_loss"].status == "inconclusive"


@pytest.mark.parametrize("full, status", [(0.152, "inconclusive"), (0.05, "passes")])
def test_a_circuit_better_than_its_model_is_inconclusive(full, status):
    assert judge({**QUOTE, "sufficiency_loss": 0.144}, 0.15, full)["sufficiency_loss"].status == status


def test_missing_the_target_fails():
    assert judge({**QUOTE, "sufficiency_loss": 0.3}, 0.15, 0.01)["sufficiency_loss"].status == "fails"


def test_the_table_says_which_way_is_better_and_the_verdict():
    table = format_table(WITH_OPEN, 0.15, 0.002)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["check", "value", "better", "verdict"]
    necessity = next(line for line in lines if line.startswith("without circuit"))
    assert "higher" in necessity and "fails" in necessity
    assert lines[-1] == "overall: fails (without circuit)"


def test_zero_ablation_is_reported_but_never_decides():
    verdicts = judge({**QUOTE, "zero_ablation_loss": 1.7}, 0.15, 0.017)
    assert verdicts["zero_ablation_loss"].status == "note"
    assert "means" in verdicts["zero_ablation_loss"].reason
    assert overall(verdicts).status == "passes"
    assert overall({"zero_ablation_loss": verdicts["zero_ablation_loss"]}).status == "inconclusive"
