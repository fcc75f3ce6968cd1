"""`sparse-circuits patch`: interventions on a task example and its pair, from the command line."""

import json

import pytest

from core.cli import main
from core.commands.patch import example_and_twin
from core.interventions import Intervention
from core.outputs import predict
from core.tasks import BUILTIN_TASKS
from core.workbench import Workbench, default_model_dir
from tests.core.test_cli import one_line_error

# In the default quote circuit, two of layer 0 attention's residual writes: patching both flips the answer.
NODES = ["0.attn.resid_delta.25", "0.attn.resid_delta.62"]
NODE_ARGS = [arg for n in NODES for arg in ("--node", n)]
NODE = NODES[0]


def test_the_json_readout_is_core_s_for_the_example_and_its_pair(capsys):
    assert (
        main(["patch", "default", "--task", "single_double_quote", "--example", "1", *NODE_ARGS, "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    bench = Workbench(default_model_dir())
    example, twin = example_and_twin(BUILTIN_TASKS["single_double_quote"], 1)
    assert [r["prompt"] for r in out["prompts"]] == [example.prompt, twin.prompt]
    for row, (e, source) in zip(out["prompts"], ((example, twin), (twin, example))):
        tok = bench.tokenizer
        patches = [Intervention("node", n, "patch") for n in NODES]
        after = predict(
            bench.model, tok, tok.encode(e.prompt), patches, bench.means,
            (e.correct, e.incorrect), source=tok.encode(source.prompt),
        )  # fmt: skip
        assert row["source"] == source.prompt
        assert row["logit_diff_after"] == pytest.approx(after.logit_diff, abs=1e-5)
        assert row["logit_diff_before"] > 0 > row["logit_diff_after"]  # the patch flips both


def test_the_text_readout_says_what_flipped(capsys):
    assert main(["patch", "default", "--task", "single_double_quote", *NODE_ARGS]) == 0
    text = capsys.readouterr().out
    assert "patched from the paired prompt" in text and text.count("flipped") == 2
    assert main(["patch", "default", "--task", "single_double_quote", "--node", NODE, "--mode", "zero"]) == 0
    assert "zero-ablated" in capsys.readouterr().out


def test_bad_input_is_one_line_naming_it(capsys):
    base = ["patch", "default", "--task", "single_double_quote"]
    one_line_error(capsys, [*base, "--node", "0.mlp.post_act.99999"], "0.mlp.post_act.99999")
    one_line_error(capsys, [*base, "--node", "0.nowhere.3"], "0.nowhere.3")
    one_line_error(capsys, [*base, "--edge", "0.attn.v.1->1.mlp.post_act.2"], "0.attn.v.1->1.mlp.post_act.2")
    one_line_error(capsys, base, "--node")
    one_line_error(capsys, [*base, "--node", NODE, "--example", "-1"], "--example")
    one_line_error(capsys, [*base, "--node", NODE, "--mode", "avg"], "--mode")
