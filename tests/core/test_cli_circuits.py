import json

import pytest

from core.cli import main
from core.train import Trainer
from tests.conftest import tiny_config, tiny_train_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_stream, tokenizer):
    run = tmp_path_factory.mktemp("run")
    list(
        Trainer(
            run, tiny_config(), tiny_train_config(steps=30, ckpt_every=30), small_stream, tokenizer, "cpu"
        ).run()
    )
    return run


def run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_tasks_json_lists_every_task(capsys):
    rows = run_json(capsys, ["tasks", "--json"])
    assert len(rows) >= 10
    for row in rows:
        assert row["description"] and row["example"]["prompt"]
        assert row["example"]["correct"] != row["example"]["incorrect"]


@pytest.mark.parametrize("calibrate", [False, True])
def test_prune_eval_check_agree(capsys, tmp_path, trained, calibrate):
    out = tmp_path / "c.json"
    assert (
        main(
            [
                "prune",
                str(trained),
                "--task",
                "bracket_counting",
                "--steps",
                "20",
                "--examples",
                "64",
                "--target-loss",
                "0.6",
                "--fixed-k-steps",
                "5",
                "--quiet",
                "--out",
                str(out),
            ]
            + (["--calibrate"] if calibrate else [])
        )
        == 0
    )
    printed = capsys.readouterr()
    err = printed.err
    circuit = json.loads(out.read_text())
    # The search's loss-vs-k curve, k = 0 first, the circuit's own k starred.
    assert circuit["loss_vs_k"][0][0] == 0 and circuit["n_nodes"] in [k for k, _ in circuit["loss_vs_k"]]
    curve = printed.out.splitlines()
    assert curve[0].startswith("task loss vs k") and len(curve) == 2 + len(circuit["loss_vs_k"])
    assert [line.split()[1] for line in curve if line.startswith("*")] == [f"{circuit['n_nodes']:,}"]
    assert (
        f"bracket_counting: {circuit['n_nodes']} nodes" in err
        and f"{circuit['n_edges']} weight edges + {circuit['n_residual_edges']} residual links" in err
    )
    assert circuit["n_nodes"] == len(circuit["nodes"]) and circuit["task"] == "bracket_counting"
    assert (circuit["calibration"] is not None) == calibrate
    full = run_json(
        capsys,
        [
            "eval",
            str(trained),
            "--task",
            "bracket_counting",
            "--json",
            "--split",
            "train",
            "--examples",
            "64",
        ],
    )
    assert set(full) >= {"task_loss", "accuracy"}
    assert full["task_loss"] == pytest.approx(circuit["loss_full"], abs=1e-4)
    alone = run_json(
        capsys,
        [
            "eval",
            str(trained),
            "--task",
            "bracket_counting",
            "--circuit",
            str(out),
            "--json",
            "--split",
            "train",
            "--examples",
            "64",
        ],
    )
    assert alone["circuit"] == {
        k: circuit[k] for k in ("n_nodes", "nodes_per_location", "n_edges", "n_residual_edges")
    }
    checks = run_json(capsys, ["check", str(trained), str(out), "--json", "--examples", "64"])
    assert set(checks) == {
        "sufficiency_loss",
        "necessity_loss",
        "random_circuit_loss_mean",
        "random_circuit_loss_std",
        "zero_ablation_loss",
        "heldout_loss",
        "reinit_control_loss",
    }
    # One ablation path: `eval --circuit` and the checks measure a (calibrated) circuit alike.
    assert alone["task_loss"] == pytest.approx(checks["sufficiency_loss"], abs=1e-4)
    assert alone["task_loss"] == pytest.approx(circuit["loss_circuit"], abs=1e-4)


def test_circuit_command_errors(capsys, tmp_path, trained):
    assert main(["prune", str(trained), "--task", "nope", "--out", str(tmp_path / "c.json")]) == 2
    assert "unknown task" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["check", str(trained), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and len(err.strip().splitlines()) == 1


def test_a_circuit_of_another_model_is_refused(capsys, trained):
    from core.workbench import default_model_dir

    quote = str(default_model_dir() / "circuits" / "single_double_quote.json")
    for argv in (
        ["check", str(trained), quote],
        ["eval", str(trained), "--task", "single_double_quote", "--circuit", quote],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert "single_double_quote.json" in err and "default" in err and str(trained) in err


def test_check_prints_a_table_with_verdicts(capsys, tmp_path, trained):
    out = tmp_path / "c.json"
    assert (
        main(
            [
                "prune",
                str(trained),
                "--task",
                "bracket_counting",
                "--steps",
                "5",
                "--examples",
                "32",
                "--target-loss",
                "0.6",
                "--fixed-k-steps",
                "5",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["check", str(trained), str(out), "--examples", "32", "--quiet"]) == 0
    printed = capsys.readouterr()
    assert "weight edges + " in printed.err and "residual links" in printed.err
    assert "task loss vs k" in printed.err
    lines = printed.out.splitlines()
    assert lines[0].split()[:4] == ["check", "value", "better", "verdict"]
    assert any(line.startswith("without circuit") and "higher" in line for line in lines)
    assert lines[-1].startswith("overall: ")
