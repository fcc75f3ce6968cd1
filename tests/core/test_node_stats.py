import numpy as np
import pytest
import torch

from core import GPT
from core.data.stream import TokenStream
from core.node_stats import PERCENTILE_BINS, CorpusSample, examples_by_bin, node_activations, sample_ids
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(tiny_config()).eval()


def test_sample_ids_are_non_overlapping_validation_windows():
    stream = TokenStream(np.arange(100_000, dtype=np.int32), val_fraction=0.5)
    ids = sample_ids(stream, n_tokens=20_000, seq_len=100)
    assert ids.shape == (200, 100)
    assert len(np.unique(ids)) == ids.size  # no token twice
    assert ids.min() >= 50_000  # all from the validation half
    assert sample_ids(stream, n_tokens=10**7, seq_len=100).size == 50_000  # as many as there are


def test_node_activations_equal_the_cache_and_stop_early(model):
    ids = np.random.default_rng(0).integers(0, 2048, size=(5, 12))
    nodes = ["0.mlp.post_act.3", "0.attn.q.7", "0.mlp.post_act.60"]
    events = list(node_activations(model, ids, nodes, batch_size=2))
    assert events[:-1] == [(2, 5), (4, 5), (5, 5)]
    values = events[-1]
    _, cache = model.run_with_cache(torch.from_numpy(ids))
    for node in nodes:
        site, index = node.rsplit(".", 1)
        expected = cache[site][..., int(index)].numpy().astype(np.float16)
        np.testing.assert_array_equal(values[node], expected)
    # Nothing after the last site needed was run.
    ran = []
    with model.hooks({"1.resid_in": lambda x, n: ran.append(n)}):
        list(node_activations(model, ids, nodes))
    assert not ran


class Tok:
    def token_text(self, i):
        return f"t{i}"


def test_percentile_bins_never_show_a_token_twice():
    rng = np.random.default_rng(0)
    values = np.where(rng.random((50, 40)) < 0.8, 0.0, rng.normal(size=(50, 40)))  # mostly 0
    sample = CorpusSample(rng.integers(0, 99, size=(50, 40)), {"0.mlp.post_act.1": values})
    bins = examples_by_bin(sample, "0.mlp.post_act.1", Tok())
    assert [label for label, _ in bins] == [label for label, _ in PERCENTILE_BINS]
    shown = [(c.value, tuple(c.tokens)) for _, contexts in bins for c in contexts]
    assert len(shown) == len(set(shown)) == 2 * len(PERCENTILE_BINS)
    top, bottom = bins[0][1][0].value, bins[-1][1][0].value
    assert top == pytest.approx(np.percentile(values, 99.9), abs=0.5) and top > bottom
