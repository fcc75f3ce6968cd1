import math

import numpy as np
import pytest
import torch

from core import GPT
from core.attention import causal_attention
from core.attention_view import circuit_heads, head_of, head_pattern, kept_channels, record_qk
from core.interventions import Intervention, applied
from core.means import compute_means
from tests.conftest import tiny_config

LAYER, HEAD = 1, 2  # tiny_config: 4 heads of 8 channels; head 2 is channels 16..23
HEAD_CHANNELS = list(range(16, 24))


def peaked_model(**overrides) -> GPT:
    """A tiny model whose heads attend sharply (random weights at init attend almost
    uniformly), with sink logits that are not all zero."""
    torch.manual_seed(0)
    model = GPT(tiny_config(**overrides)).eval().requires_grad_(False)
    for block in model.transformer.h:
        block.attn.c_attn.weight.mul_(25)
        if block.attn.sink_logit is not None:
            block.attn.sink_logit.normal_()
    return model


@pytest.fixture(scope="module")
def ids(tokenizer):
    return tokenizer.encode('x = "hello world"\nprint(x, "a")\ny = [1, 2]')[:24]


def models_own_probabilities(model, ids, interventions=(), means=None) -> torch.Tensor:
    """The head's probabilities from core/attention.py's own kernel: q and k padded with zero
    dimensions (which leave the scores alone) to the prompt's length, and v the identity, so
    that the output is the pattern itself."""
    q, k = record_qk(model, ids, LAYER, interventions, means)
    n, d = len(ids), model.config.d_head
    cols = slice(HEAD * d, (HEAD + 1) * d)
    pad = lambda t: torch.cat([t[:, cols], t.new_zeros(n, n - d)], 1)[None, None].contiguous()  # noqa: E731
    sink = model.transformer.h[LAYER].attn.sink_logit
    sink = None if sink is None else sink[HEAD : HEAD + 1]
    eye = torch.eye(n)[None, None].contiguous()
    with torch.no_grad():
        return causal_attention(pad(q), pad(k), eye, sink, 0.0, 1 / math.sqrt(d))[0, 0]


def models_own_output(model, ids, interventions=(), means=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(the head's attention output as the model's forward pass computes it, its values)."""
    seen = {}

    def take(out, name, inp):
        seen["y"] = inp[0].detach()

    d = model.config.d_head
    cols = slice(HEAD * d, (HEAD + 1) * d)
    with torch.no_grad(), applied(model, interventions, means):
        _, cache = model.run_with_cache(torch.tensor([ids]), [f"{LAYER}.attn.v"])
        with model.hooks([(f"{LAYER}.attn.c_proj", take)]):
            model(torch.tensor([ids]))
    return seen["y"][:, cols].double(), cache[f"{LAYER}.attn.v"][0][:, cols].double()


@pytest.mark.parametrize(
    "overrides",
    [{}, {"sink": False}, {"afrac": 0.5, "afrac_loctypes": "attn_in,attn_q,attn_k,mlp_in"}],
    ids=["sink", "no-sink", "abstopk-on-q-k"],
)
def test_full_pattern_is_the_models_own(ids, overrides):
    model = peaked_model(**overrides)
    p = head_pattern(model, ids, LAYER, HEAD, [], [], others="zero")
    own = models_own_probabilities(model, ids).numpy()
    np.testing.assert_allclose(p.full, own, atol=1e-5)
    y, v = models_own_output(model, ids)
    np.testing.assert_allclose(p.full @ v.numpy(), y.numpy(), atol=1e-5)
    assert p.full.max() > 0.5  # a pattern worth comparing: not uniform
    assert np.all(np.triu(p.full, 1) == 0)
    if model.config.sink:
        assert p.sink_full is not None and p.sink_full.min() > 0
        np.testing.assert_allclose(p.full.sum(1) + p.sink_full, 1.0, atol=1e-9)
    else:
        assert p.sink_full is None
        np.testing.assert_allclose(p.full.sum(1), 1.0, atol=1e-9)


@pytest.fixture(scope="module")
def model_and_means(small_stream):
    model = peaked_model()
    return model, compute_means(model, small_stream, n_batches=2, batch_size=4)


def test_full_pattern_follows_the_interventions(ids, model_and_means):
    model, means = model_and_means
    ivs = [Intervention("node", f"{LAYER}.attn.q.{c}", "zero") for c in (16, 17, 18)]
    ivs.append(Intervention("node", "0.attn.resid_delta.3", "mean"))
    before = head_pattern(model, ids, LAYER, HEAD, [], [], means=means)
    after = head_pattern(model, ids, LAYER, HEAD, [], [], ivs, means)
    assert np.abs(after.full - before.full).max() > 1e-2
    np.testing.assert_allclose(after.full, models_own_probabilities(model, ids, ivs, means), atol=1e-5)
    y, v = models_own_output(model, ids, ivs, means)
    np.testing.assert_allclose(after.full @ v.numpy(), y.numpy(), atol=1e-5)


@pytest.mark.parametrize("others", ["mean", "zero"])
def test_kept_is_full_when_every_channel_is_kept(ids, model_and_means, others):
    model, means = model_and_means
    p = head_pattern(model, ids, LAYER, HEAD, HEAD_CHANNELS, HEAD_CHANNELS, means=means, others=others)
    np.testing.assert_allclose(p.kept, p.full, atol=1e-12)
    np.testing.assert_allclose(p.sink_kept, p.sink_full, atol=1e-12)


def test_kept_at_their_mean_is_the_head_with_the_others_mean_ablated(ids, model_and_means):
    """The kept pattern with the others at their mean is what the one ablation path gives when
    the head's other q/k channels are mean-ablated."""
    model, means = model_and_means
    kept_q, kept_k = [17, 20], [17, 21, 23]
    p = head_pattern(model, ids, LAYER, HEAD, kept_q, kept_k, means=means)
    ivs = [Intervention("node", f"{LAYER}.attn.q.{c}") for c in HEAD_CHANNELS if c not in kept_q]
    ivs += [Intervention("node", f"{LAYER}.attn.k.{c}") for c in HEAD_CHANNELS if c not in kept_k]
    ablated = head_pattern(model, ids, LAYER, HEAD, [], [], ivs, means)
    np.testing.assert_allclose(p.kept, ablated.full, atol=1e-6)
    assert np.abs(p.kept - p.full).max() > 1e-2


def test_kept_with_the_others_zero_sums_the_scores_over_the_kept_channels(ids, model_and_means):
    model, means = model_and_means
    kept = [16, 19]
    p = head_pattern(
        model, ids, LAYER, HEAD, kept, kept + [22], means=means, others="zero", qk_channels=(16, 16)
    )
    q, k = record_qk(model, ids, LAYER)
    scores = (q[:, kept].double() @ k[:, kept].double().T) / math.sqrt(8)
    n = len(ids)
    scores = scores.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), -math.inf)
    sink = float(model.transformer.h[LAYER].attn.sink_logit[HEAD])
    probs = torch.softmax(torch.cat([torch.full((n, 1), sink, dtype=torch.float64), scores], 1), 1)
    np.testing.assert_allclose(p.kept, probs[:, 1:].numpy(), atol=1e-12)
    np.testing.assert_allclose(p.sink_kept, probs[:, 0].numpy(), atol=1e-12)


def test_qk_maps_of_the_head_sum_to_its_scores(ids, model_and_means):
    model, means = model_and_means
    maps = [
        head_pattern(model, ids, LAYER, HEAD, [], [], qk_channels=(c, c), others="zero").qk
        for c in HEAD_CHANNELS
    ]
    q, k = record_qk(model, ids, LAYER)
    i, j = 18, 21
    one = head_pattern(model, ids, LAYER, HEAD, [], [], qk_channels=(i, j), others="zero")
    n = len(ids)
    lower = np.tril_indices(n)
    expected = (q[:, i].double()[:, None] * k[:, j].double()[None, :]).numpy() / math.sqrt(8)
    np.testing.assert_allclose(one.qk[lower], expected[lower], atol=1e-12)
    assert np.isnan(one.qk[np.triu_indices(n, 1)]).all() and one.qk_channels == (i, j)
    # Softmax of the summed maps (with the sink) is the full pattern.
    scores = np.sum(maps, axis=0)
    sink = float(model.transformer.h[LAYER].attn.sink_logit[HEAD])
    logits = np.concatenate([np.full((n, 1), sink), np.where(np.isnan(scores), -np.inf, scores)], 1)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(probs[:, 1:], one.full, atol=1e-5)


def test_heads_and_kept_channels_of_a_circuit():
    model = peaked_model()
    nodes = ["1.attn.q.17", "1.attn.k.20", "1.attn.k.3", "0.attn.q.31", "1.attn.v.18", "0.mlp.post_act.2"]
    assert head_of(model, "1.attn.v.18") == (1, 2) and head_of(model, "0.attn.q.31") == (0, 3)
    assert kept_channels(model, nodes, 1, 2) == ([17], [20])
    assert circuit_heads(model, nodes) == [(0, 3), (1, 0), (1, 2)]


def test_bad_requests_say_what_is_wrong(ids, model_and_means):
    model, means = model_and_means
    with pytest.raises(ValueError, match=r"1\.attn\.q\.3: not a channel of head 2 \(channels 16\.\.23\)"):
        head_pattern(model, ids, LAYER, HEAD, [3], [], means=means)
    with pytest.raises(ValueError, match="head 4: layer 1 has 4 heads"):
        head_pattern(model, ids, LAYER, 4, [], [], means=means)
    with pytest.raises(ValueError, match="layer 2: the model has 2 layers"):
        head_pattern(model, ids, 2, 0, [], [], means=means)
    with pytest.raises(ValueError, match="others must be mean or zero"):
        head_pattern(model, ids, LAYER, HEAD, [], [], means=means, others="drop")
    with pytest.raises(ValueError, match="needs the model's mean activations"):
        head_pattern(model, ids, LAYER, HEAD, [], [])
    with pytest.raises(ValueError, match="the prompt is empty"):
        head_pattern(model, [], LAYER, HEAD, [], [], means=means)
    with pytest.raises(ValueError, match="not a query, key or value channel"):
        head_of(model, "0.mlp.post_act.2")
