"""Interchange patching: a node, weight edge or residual edge takes its value from the paired
prompt, positions aligned from the right; held against hand-written hooks and one prompt at a
time against a batch."""

import pytest
import torch

from core import GPT
from core.ablation import NO_SOURCE, PatchSource, ablated, aligned_positions
from core.interventions import Intervention
from core.outputs import predict, score_examples
from core.tasks import BUILTIN_TASKS
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(tiny_config(afrac=None)).eval()  # every channel active: every patch shows


def ids(tokenizer, text):
    return tokenizer.encode(text)


def test_positions_align_from_the_right():
    assert aligned_positions(5, 3).tolist() == [-1, -1, 0, 1, 2]  # the prompt is longer
    assert aligned_positions(3, 5).tolist() == [2, 3, 4]  # the source is longer
    assert aligned_positions(3, 3, width=5).tolist() == [0, 1, 2, -1, -1]  # padding after the prompt


def by_hand(model, site, channel, prompt, source):
    """Logits with the channel overwritten, right-aligned, by a hook written here."""
    _, cache = model.run_with_cache(torch.tensor([source]), [site])
    recorded = cache[site][0, :, channel]
    n, s = len(prompt), len(source)

    def overwrite(x, name):
        x = x.clone()
        for t in range(n):
            if 0 <= t - n + s < s:
                x[0, t, channel] = recorded[t - n + s]
        return x

    with model.hooks([(site, overwrite)]):
        return model(torch.tensor([prompt]))


@pytest.mark.parametrize("source_text", ["print('hello world", "x = str('a", "print('hello world beta alpha"])
def test_a_patched_node_takes_the_source_value_at_the_aligned_position(model, tokenizer, source_text):
    prompt = ids(tokenizer, 'print("hello world')
    source = ids(tokenizer, source_text)
    node = "0.mlp.post_act.5"
    with ablated(model, interventions=[Intervention("node", node, "patch")], source=source):
        patched = model(torch.tensor([prompt]))
    expected = by_hand(model, "0.mlp.post_act", 5, prompt, source)
    assert torch.allclose(patched, expected, atol=1e-5)
    assert not torch.allclose(patched, model(torch.tensor([prompt])), atol=1e-4)  # it did something


@pytest.mark.parametrize("what", ["node", "weight", "residual"])
def test_patching_from_the_prompt_itself_changes_nothing_and_from_another_does(model, tokenizer, what):
    if what == "node":
        iv = Intervention("node", "1.attn.v.3", "patch")
    else:
        iv = Intervention("edge", _weight_edge(model) if what == "weight" else _residual_edge(model), "patch")
    prompt = ids(tokenizer, "x = [1, [2")
    clean = model(torch.tensor([prompt]))
    with ablated(model, interventions=[iv], source=prompt):
        same = model(torch.tensor([prompt]))
    with ablated(model, interventions=[iv], source=ids(tokenizer, "print('hello")):
        other = model(torch.tensor([prompt]))
    assert torch.allclose(same, clean, atol=1e-5)
    assert (other - clean).abs().max() > 1e-6, (other - clean).abs().max()


def _weight_edge(model):
    """The largest weight of 0.mlp.c_fc."""
    from core.sparse import dense

    w = dense(model.submodule("0.mlp.c_fc").weight).detach().abs()
    row, col = (int(i) for i in (w == w.max()).nonzero()[0])
    return f"0.mlp.act_in.{col}->0.mlp.post_act.{row}"


def _residual_edge(model):
    for src in model.topology.all_nodes():
        if src.startswith("0.mlp.resid_delta."):
            channel = src.rsplit(".", 1)[1]
            return f"{src}->1.attn.act_in.{channel}"
    raise AssertionError("no residual edge")


def test_a_patched_weight_edge_changes_its_output_row_by_weight_times_the_input_change(model, tokenizer):
    from core.sparse import dense

    edge = _weight_edge(model)
    col, row = (int(n.rsplit(".", 1)[1]) for n in edge.split("->"))
    prompt, source = ids(tokenizer, "print('abc"), ids(tokenizer, 'x = print("ab')
    _, cache = model.run_with_cache(torch.tensor([source]), ["0.mlp.act_in"])
    src_in = cache["0.mlp.act_in"][0, :, col]
    w = float(dense(model.submodule("0.mlp.c_fc").weight).detach()[row, col])
    n, s = len(prompt), len(source)

    def by_hand(out, name, inp):
        out = out.clone()
        for t in range(n):
            if 0 <= t - n + s < s:
                out[0, t, row] += w * (src_in[t - n + s] - inp[0, t, col])
        return out

    with model.hooks([("0.mlp.c_fc", by_hand)]):
        expected = model(torch.tensor([prompt]))
    with ablated(model, interventions=[Intervention("edge", edge, "patch")], source=source):
        patched = model(torch.tensor([prompt]))
    assert torch.allclose(patched, expected, atol=1e-5)


def test_a_batch_patches_each_example_from_its_own_twin(model, tokenizer):
    """The Examples table's batch (right-padded, prompts of several lengths) gives each example
    the number that example alone gets with its twin as the source."""
    pairs = BUILTIN_TASKS["single_double_quote"].pairs(4, "heldout")
    examples = [e for p in pairs for e in p.examples()]
    twins = {p.a: p.b for p in pairs} | {p.b: p.a for p in pairs}
    assert len({len(tokenizer.encode(e.prompt)) for e in examples}) > 1
    ivs = [Intervention("node", "0.attn.v.2", "patch"), Intervention("node", "1.mlp.post_act.7", "patch")]
    scores = score_examples(model, tokenizer, examples, ivs, None, twins)
    for example, diff in zip(scores.examples, scores.logit_diff_now):
        alone = predict(
            model, tokenizer, ids(tokenizer, example.prompt), ivs, None,
            (example.correct, example.incorrect), source=ids(tokenizer, twins[example].prompt),
        )  # fmt: skip
        assert diff == pytest.approx(alone.logit_diff, abs=1e-5)
    assert scores.logit_diff_now != pytest.approx(scores.logit_diff, abs=1e-4)


def test_an_example_without_a_twin_is_not_scored_under_a_patch(model, tokenizer):
    pair = BUILTIN_TASKS["single_double_quote"].pairs(1, "heldout")[0]
    ivs = [Intervention("node", "0.attn.v.2", "patch")]
    scores = score_examples(model, tokenizer, pair.examples(), ivs, None, {pair.a: pair.b})
    assert scores.examples == [pair.a]
    assert scores.rejected == [(pair.b, "no paired prompt to patch from")]


def test_a_patch_without_a_source_is_refused(model, tokenizer):
    with pytest.raises(ValueError, match="no pair"):
        predict(model, tokenizer, ids(tokenizer, "x = 1"), [Intervention("node", "0.attn.v.2", "patch")])
    assert "paired prompt" in NO_SOURCE


def test_a_source_per_row_must_match_the_batch(model, tokenizer):
    source = PatchSource([ids(tokenizer, "x"), ids(tokenizer, "y")])
    with pytest.raises(ValueError, match="2 source prompts for a batch of 1"):
        with ablated(model, interventions=[Intervention("node", "0.attn.v.2", "patch")], source=source):
            model(torch.tensor([ids(tokenizer, "x = 1")]))
